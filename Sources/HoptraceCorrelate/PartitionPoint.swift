extension RandomAccessCollection {
    /// The first index whose element is not `before` (binary search): the elements must be partitioned, all those
    /// `before` first (a list sorted by time, `before` = earlier than some time).
    func partitionPoint(_ before: (Element) -> Bool) -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if before(self[middle]) {
                low = index(after: middle)
                count -= half + 1
            } else {
                count = half
            }
        }
        return low
    }
}
