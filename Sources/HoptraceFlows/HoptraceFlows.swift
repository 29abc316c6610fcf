@_exported import HoptraceDecode
