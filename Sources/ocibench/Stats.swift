/// Order statistics of a sample.
enum Stats {
    static func median(_ values: [Double]) -> Double? { percentile(values, 50) }

    /// The median with an even count taken halfway between the two middle
    /// values: for a verdict on a difference's sign, where the nearest rank
    /// (the lower of the two) would lean towards "less".
    static func midpointMedian(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted(), half = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
    }

    /// How a target compares ocishim with conmon measured in the same runs:
    /// the midpoint median over the runs of ocishim's sample less conmon's
    /// of the same run (both in run order).
    static func runByRunDifference(_ ours: [Double], _ theirs: [Double]) -> Double? {
        midpointMedian(zip(ours, theirs).map { $0 - $1 })
    }

    /// Nearest-rank percentile (p in 0...100).
    static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
