import Foundation

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
/// a small seeded generator giving the same sequence on every machine, for fuzz tests whose
/// failing input must be replayable from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's state; the seed at creation.
    public var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The size and seed of a fuzz test's run, from the environment: `TERN_FUZZ_ITERATIONS`
/// (default: the test's own) and `TERN_FUZZ_SEED` (default 1), so a longer run or a failing
/// seed can be replayed without editing the test.
public struct FuzzRun: Sendable {
    /// Inputs to try.
    public var iterations: Int
    /// The seed of the run's ``SplitMix64``.
    public var seed: UInt64

    /// The run the environment asks for, `defaultIterations` inputs from seed 1 unless it says
    /// otherwise.
    public init(defaultIterations: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        iterations = environment["TERN_FUZZ_ITERATIONS"].flatMap(Int.init) ?? defaultIterations
        seed = environment["TERN_FUZZ_SEED"].flatMap(UInt64.init) ?? 1
    }
}
