/// A value's fields on the heap, shared between copies until one of them changes (copy on write, as `Array` does).
///
/// For the large values hoptrace copies many times while it traces (an exchange, a connection record, a trace): a
/// copy is one retain instead of the fields' bytes and a retain of each string and array among them. The owner keeps
/// one `CopyOnWrite` of its fields and reads and writes them through ``fields``.
public struct CopyOnWrite<Fields> {
    @usableFromInline
    final class Box {
        // Changed only through a uniquely referenced box (see `fields`): never shared while written.
        @usableFromInline var fields: Fields

        @usableFromInline init(_ fields: Fields) { self.fields = fields }
    }

    @usableFromInline var box: Box

    @inlinable
    public init(_ fields: Fields) { self.box = Box(fields) }

    /// The fields: read in place, written in a box of this value's own (copied first when another value shares it).
    @inlinable
    public var fields: Fields {
        _read { yield self.box.fields }
        _modify {
            if !isKnownUniquelyReferenced(&self.box) { self.box = Box(self.box.fields) }
            yield &self.box.fields
        }
    }
}

/// Equal when they share a box, or when their fields are equal.
extension CopyOnWrite: Equatable where Fields: Equatable {
    @inlinable
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.box === rhs.box || lhs.box.fields == rhs.box.fields
    }
}

/// Hashed as the fields.
extension CopyOnWrite: Hashable where Fields: Hashable {
    @inlinable
    public func hash(into hasher: inout Hasher) { self.box.fields.hash(into: &hasher) }
}

/// A box is written only while uniquely referenced, so sharing one between threads shares only reads.
extension CopyOnWrite: @unchecked Sendable where Fields: Sendable {}
