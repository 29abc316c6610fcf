/// The connections listed under one key of the engine's indexes (a client ISN, a server ISN, a tuple begun
/// mid-stream), oldest first, at most a cap of the latest.
///
/// Nearly every key lists one connection, so one id is held inline: listing and unlisting it allocate nothing
/// (an array per key made each connection of a flood cost an allocation and a free per index it is listed in).
/// A key listing several (a scanner's fixed ISN, NAT's views of one connection) holds them in an array.
enum CandidateList: RandomAccessCollection {
    case one(Int)
    case many([Int])

    var startIndex: Int { 0 }

    var endIndex: Int {
        switch self {
        case .one: 1
        case .many(let ids): ids.count
        }
    }

    subscript(position: Int) -> Int {
        switch self {
        case .one(let id): id
        case .many(let ids): ids[position]
        }
    }

    /// Appends `id` to the list under a key (nil: none yet), keeping the latest `cap`.
    static func note(_ id: Int, in list: inout CandidateList?, cap: Int) {
        switch list {
        case nil:
            list = .one(id)
        case .one(let earlier)?:
            list = cap > 1 ? .many([earlier, id]) : .one(id)
        case .many(var ids)?:
            // Out of the slot first, so that the array is uniquely held and grows where it is.
            list = nil
            if ids.count >= cap { ids.removeFirst(ids.count - cap + 1) }
            ids.append(id)
            list = .many(ids)
        }
    }

    /// Takes `id` off the list under a key, and the key off its index (nil) when nothing is left.
    static func unnote(_ id: Int, in list: inout CandidateList?) {
        switch list {
        case nil:
            return
        case .one(let only)?:
            if only == id { list = nil }
        case .many(var ids)?:
            guard ids.contains(id) else { return }
            list = nil
            ids.removeAll { $0 == id }
            if ids.count > 1 {
                list = .many(ids)
            } else if let only = ids.first {
                list = .one(only)
            }
        }
    }
}
