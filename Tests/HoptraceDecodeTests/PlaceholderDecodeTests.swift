import Testing

@testable import HoptraceDecode
