/// How many event-loop threads `tern serve` runs (`--event-loops auto`).
///
/// The gateway's work per request is a fraction of a replica's (release build, iris: about
/// 90 µs of gateway CPU against 150 µs for the replica's predict path at 16 connections, see
/// docs/benchmarks.md), so when replicas keep the machine's cores busy the gateway needs about a
/// third of them. Every extra loop beyond what the load needs costs: a request whose client
/// connection and replica connection live on different loops crosses threads twice, and each loop
/// that sleeps must be woken (on a 2-core machine, one loop instead of two made the gateway's
/// context switches per request 2.0 instead of 5–7 at one connection, with no loss at 16:
/// optimisation log item 14). Hence a third of the cores, at least one.
enum EventLoopCount {
    /// The automatic count for a machine with `cores` usable cores: `max(1, (cores + 1) / 3)`,
    /// e.g. 1 for 1–4 cores, 3 for 8, 5 for 16.
    static func automatic(cores: Int) -> Int {
        max(1, (cores + 1) / 3)
    }
}
