/// Everything a run measured, apart from how it is shown: Report renders it,
/// and it is saved as JSON next to docs/BENCHMARKS.md so that the document
/// can be rendered again (after editing the analysis) without measuring
/// again (`Scripts/bench --render`).
struct Results: Codable {
    var settings: Settings
    /// [Figure.rawValue: [monitor: samples]]
    var samples: [String: [String: [Double]]] = [:]
    /// [Baseline.rawValue: samples]
    var baselines: [String: [Double]] = [:]
    /// Why a figure has no value (pending features, missing tools).
    var notes: [String: String] = [:]
    var baselineNotes: [String: String] = [:]
    /// The machine and versions, as (name, value) pairs in order.
    var environment: [[String]] = []
    var command = ""
    /// The scale section, when it ran.
    var scale: ScaleResults?

    init(settings: Settings) { self.settings = settings }

    func values(_ figure: Figure, _ monitor: String) -> [Double] { samples[figure.rawValue]?[monitor] ?? [] }
    func median(_ figure: Figure, _ monitor: String) -> Double? { Stats.median(values(figure, monitor)) }
    func median(_ baseline: Baseline) -> Double? { Stats.median(baselines[baseline.rawValue] ?? []) }
    func note(_ figure: Figure) -> String? { notes[figure.rawValue] }
    func note(_ baseline: Baseline) -> String? { baselineNotes[baseline.rawValue] }

    mutating func record(_ figure: Figure, _ monitor: String, _ value: Double) {
        samples[figure.rawValue, default: [:]][monitor, default: []].append(value)
    }

    mutating func record(_ baseline: Baseline, _ value: Double) {
        baselines[baseline.rawValue, default: []].append(value)
    }
}
