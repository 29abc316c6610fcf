import ArgumentParser
import Foundation
import HoptraceStore

/// `--store URL --database NAME`: where the agents write and `trace --store` reads.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("ClickHouse's HTTP interface, e.g. http://clickhouse:8123.", valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp("The database holding hoptrace's tables.", valueName: "name"))
    var database: String = "hoptrace"

    /// The store, or a one-line error naming the fix.
    func open(timeout: Int = 30) throws -> ClickHouseStore {
        guard let store else { throw CLIFailure("give the store: --store http://HOST:8123") }
        do {
            return try ClickHouseStore(url: store, database: database, timeout: timeout)
        } catch {
            throw CLIFailure(error.description)
        }
    }
}

/// `hoptrace store`: the ClickHouse side of a fleet.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Manage the ClickHouse store the agents write to (see docs/clickhouse.sql).",
        subcommands: [StoreInitCommand.self]
    )
}

/// `hoptrace store init`: creates the database and tables when missing.
struct StoreInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create hoptrace's database and tables in ClickHouse (nothing is changed when they exist).",
        discussion: """
            The tables are MergeTree, partitioned by day and ordered for the stitching join (client ISN, server \
            ISN, time). On ClickHouse 19.6 and later the rows expire after --keep-days; older servers have no \
            TTL: drop old days with ALTER TABLE ... DROP PARTITION (docs/clickhouse.sql).
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(
        help: ArgumentHelp("Days the rows are kept (a TTL, ClickHouse 19.6 and later); 0 keeps them.", valueName: "n")
    )
    var keepDays: Int = 7

    func validate() throws {
        if store.store == nil { throw ValidationError("give the store: --store http://HOST:8123") }
        if keepDays < 0 { throw ValidationError("--keep-days must be 0 or more") }
    }

    func run() throws {
        let store = try self.store.open()
        do {
            let (version, ttl) = try store.initialize(retentionDays: keepDays == 0 ? nil : keepDays)
            let retention =
                ttl
                ? "rows kept \(keepDays) days"
                : keepDays == 0
                    ? "rows kept until dropped" : "no TTL on ClickHouse \(version): drop old days by partition"
            print("\(store.client.url): database \(store.database) ready (ClickHouse \(version), \(retention))")
        } catch {
            throw CLIFailure(error.description)
        }
    }
}
