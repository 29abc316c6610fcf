import HoptraceDecode
import Testing

@testable import HoptraceCorrelate

/// The index where an L7 proxy's onward request is found for an inbound one, asked directly with hand-written
/// exchanges: each claim's answer follows from the rules (sender, method and target, window, request ID, Host).
@Suite("onward exchanges index")
struct OnwardIndexTests {
    static let proxy = IPAddress(10, 244, 1, 7)
    static let other = IPAddress(10, 244, 2, 9)
    static let inbound = IPAddress(10, 0, 0, 5)

    static func entry(
        _ time: Int64,
        group: Int,
        sender: IPAddress,
        requestID: String? = nil,
        host: String? = nil,
        destination: IPAddress = IPAddress(10, 96, 5, 5)
    ) -> OnwardIndex.Entry {
        .init(
            time: time,
            group: group,
            index: 0,
            requestID: requestID,
            host: host,
            sender: sender,
            raw: UInt32(group * 100),
            destination: destination
        )
    }

    func claim(
        _ index: inout OnwardIndex,
        hosts: [IPAddress],
        path: String = "/api",
        requestID: String? = nil,
        host: String? = nil,
        from: Int64 = 0,
        to: Int64 = 1_000
    ) -> Int? {
        index.claim(
            hosts: hosts,
            method: "GET",
            path: path,
            requestID: requestID,
            host: host,
            from: from,
            to: to,
            excluding: -1,
            notFrom: Self.inbound,
            notTo: [IPAddress(10, 96, 0, 1)]
        )?.group
    }

    @Test("forwarded exchanges only: none until one carrying what a proxy adds is listed, then that one")
    func forwardedOnly() {
        var index = OnwardIndex()
        func claimForwarded(_ index: inout OnwardIndex) -> Int? {
            index.claim(
                hosts: [OnwardIndex.anyClient],
                method: "GET",
                path: "/api",
                requestID: nil,
                host: nil,
                from: 0,
                to: 1_000,
                excluding: -1,
                notFrom: Self.inbound,
                notTo: [IPAddress(10, 96, 0, 1)],
                forwardedOnly: true,
                target: OnwardIndex.target("GET", "/api")
            )?.group
        }
        index.insert(Self.entry(100, group: 1, sender: Self.other), method: "GET", path: "/api")
        #expect(!index.listedForwarded)
        #expect(claimForwarded(&index) == nil)
        var forwarded = Self.entry(200, group: 2, sender: Self.proxy)
        forwarded.forwarded = true
        index.insert(forwarded, method: "GET", path: "/api")
        #expect(index.listedForwarded)
        #expect(claimForwarded(&index) == 2)
        // And the unforwarded one is still there for a claim of any exchange.
        #expect(claim(&index, hosts: [Self.other]) == 1)
    }

    @Test("by sender, method and target, in the window; each exchange claimed once, then by any sender")
    func bySender() {
        var index = OnwardIndex()
        index.insert(Self.entry(100, group: 1, sender: Self.other), method: "GET", path: "/api")
        index.insert(Self.entry(200, group: 2, sender: Self.proxy), method: "GET", path: "/api")
        index.insert(Self.entry(300, group: 3, sender: Self.proxy), method: "GET", path: "/other")
        index.insert(Self.entry(400, group: 4, sender: Self.proxy), method: "POST", path: "/api")
        // Listed twice each (by target, and by sender and target); the same exchange again is ignored.
        #expect(index.count == 8)
        index.insert(Self.entry(200, group: 2, sender: Self.proxy), method: "GET", path: "/api")
        #expect(index.count == 8)
        #expect(claim(&index, hosts: [Self.proxy], to: 150) == nil)
        #expect(claim(&index, hosts: [Self.proxy]) == 2)
        #expect(index.isConsumed(group: 2, raw: 200, index: 0))
        // Claimed: neither list offers it again; any sender now finds the other one.
        #expect(claim(&index, hosts: [Self.proxy]) == nil)
        #expect(claim(&index, hosts: [OnwardIndex.anyClient]) == 1)
        #expect(claim(&index, hosts: [OnwardIndex.anyClient]) == nil)
    }

    @Test("a target's only exchange answers for its sender alone; once shared, for each sender its own")
    func sharedLater() {
        var index = OnwardIndex()
        index.insert(Self.entry(100, group: 1, sender: Self.proxy), method: "GET", path: "/x")
        #expect(claim(&index, hosts: [Self.other]) == nil)
        #expect(claim(&index, hosts: [Self.other], path: "/x") == nil)
        // A second exchange on the target: both senders' lists, the first exchange's included.
        index.insert(Self.entry(200, group: 2, sender: Self.other), method: "GET", path: "/x")
        index.insert(Self.entry(300, group: 3, sender: Self.other), method: "GET", path: "/x")
        #expect(index.count == 6)
        #expect(claim(&index, hosts: [Self.other], path: "/x") == 2)
        #expect(claim(&index, hosts: [Self.proxy], path: "/x") == 1)
        #expect(claim(&index, hosts: [Self.proxy], path: "/x") == nil)
        #expect(claim(&index, hosts: [Self.other], path: "/x") == 3)
        // Expired down to one and shared again: nothing listed twice, nothing lost.
        index.expire(before: 250)
        #expect(index.count == 2)
        index.insert(Self.entry(400, group: 4, sender: Self.proxy), method: "GET", path: "/x")
        #expect(claim(&index, hosts: [Self.proxy], path: "/x") == 4)
        #expect(claim(&index, hosts: [Self.proxy], path: "/x") == nil)
        #expect(claim(&index, hosts: [OnwardIndex.anyClient], path: "/x") == nil)
    }

    @Test("a request to the inbound request's own server is another client's, never its onward request")
    func notToTheSameServer() {
        var index = OnwardIndex()
        // Another client's identical request to the same server, inside the window: not a proxy's.
        let inboundServer = IPAddress(10, 96, 0, 1)
        index.insert(
            Self.entry(100, group: 1, sender: Self.other, destination: inboundServer),
            method: "GET",
            path: "/"
        )
        #expect(claim(&index, hosts: [OnwardIndex.anyClient], path: "/") == nil)
        #expect(claim(&index, hosts: [Self.other], path: "/") == nil)
        index.insert(Self.entry(200, group: 2, sender: Self.proxy), method: "GET", path: "/")
        #expect(claim(&index, hosts: [OnwardIndex.anyClient], path: "/") == 2)
    }

    @Test("a request ID that matches wins over an earlier exchange; one that differs excludes; Host must match")
    func requestIDAndHost() {
        var index = OnwardIndex()
        index.insert(
            Self.entry(100, group: 1, sender: Self.proxy, requestID: "a", host: "web"),
            method: "GET",
            path: "/"
        )
        index.insert(
            Self.entry(110, group: 2, sender: Self.proxy, requestID: "b", host: "web"),
            method: "GET",
            path: "/"
        )
        index.insert(Self.entry(120, group: 3, sender: Self.proxy, host: "api"), method: "GET", path: "/")
        #expect(claim(&index, hosts: [Self.proxy], path: "/", requestID: "b") == 2)
        #expect(claim(&index, hosts: [Self.proxy], path: "/", requestID: "z") == 3)
        #expect(claim(&index, hosts: [OnwardIndex.anyClient], path: "/", host: "api") == nil)
        #expect(claim(&index, hosts: [OnwardIndex.anyClient], path: "/", host: "web") == 1)
    }

    @Test("expiry forgets a prefix of every list; shedding keeps about the latest")
    func expiryAndShedding() {
        var index = OnwardIndex()
        for n in 0..<100 {
            // Half on one shared target (one long list), half on targets of their own (lists of one).
            let path = n % 2 == 0 ? "/shared" : "/own/\(n)"
            index.insert(Self.entry(Int64(n * 10), group: n, sender: Self.proxy), method: "GET", path: path)
        }
        #expect(index.count == 200)
        index.expire(before: 500)
        #expect(index.count == 100)
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 0, to: 490) == nil)
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 0, to: 1_000) == 50)
        #expect(claim(&index, hosts: [Self.proxy], path: "/own/51", from: 0, to: 1_000) == 51)
        let shed = index.shed(to: 20)
        #expect(shed == 80)
        #expect(index.count == 20)
        #expect(claim(&index, hosts: [Self.proxy], path: "/own/99", from: 0, to: 1_000) == 99)
        #expect(claim(&index, hosts: [Self.proxy], path: "/own/79", from: 0, to: 1_000) == nil)
        // Freed slots are used again.
        index.insert(Self.entry(2_000, group: 500, sender: Self.other), method: "GET", path: "/shared")
        #expect(claim(&index, hosts: [Self.other], path: "/shared", from: 1_500, to: 2_500) == 500)
    }

    @Test("a clock that steps back: exchanges listed in time order wherever they come, the same one again ignored")
    func clockStepsBack() {
        var index = OnwardIndex()
        // Groups 0..<20 at 1,000 + 10n, then groups 20..<40 from 100 on: each of those lands ahead of all the first.
        for n in 0..<40 {
            let time = n < 20 ? Int64(1_000 + n * 10) : Int64(100 + (n - 20) * 10)
            index.insert(Self.entry(time, group: n, sender: Self.proxy), method: "GET", path: "/shared")
        }
        #expect(index.count == 80)
        // Listed again, at its place in the middle of the list: still one entry.
        index.insert(Self.entry(150, group: 25, sender: Self.proxy), method: "GET", path: "/shared")
        index.insert(Self.entry(1_050, group: 5, sender: Self.proxy), method: "GET", path: "/shared")
        #expect(index.count == 80)
        // Windows pick by time, not by arrival: the earliest in each.
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 125, to: 1_000) == 23)
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 1_000, to: 2_000) == 0)
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 0, to: 2_000) == 20)
        // Expiry forgets by time: the 20 that came last, being the earliest (claimed or not).
        index.expire(before: 1_000)
        #expect(index.count == 40)
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 0, to: 999) == nil)
        #expect(claim(&index, hosts: [Self.proxy], path: "/shared", from: 0, to: 2_000) == 1)
    }
}
