import Foundation

/// The scale section's curves as an SVG, drawn from the samples: per-monitor
/// memory (Private_Dirty and PSS, medians) and create → running (medians of
/// consecutive containers) against the number of idle containers on the
/// host, ocishim and conmon side by side. No dependency: the SVG is text.
struct ScalePlot {
    let report: ScaleReport

    static let colors = [ScaleReport.shim: "#1f6fb4", ScaleReport.counterpart: "#d9731a"]
    static let panelWidth = 380.0
    static let panelHeight = 260.0
    static let margin = (left: 58.0, right: 14.0, top: 34.0, bottom: 44.0)

    struct Series {
        var label: String
        var color: String
        var dashed: Bool
        var points: [(x: Double, y: Double)]
    }

    var svg: String {
        let width = 2 * Self.panelWidth + 20
        let height = Self.panelHeight + 44
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>

            """
        out += panel(x: 0, title: "memory per idle monitor (median)", unit: "kB", series: memorySeries)
        out += panel(x: Self.panelWidth + 20, title: "create → running while the host fills (median)", unit: "ms", series: latencySeries)
        // One legend for both panels, wrapped to the width.
        var legendX = 60.0
        var legendY = Self.panelHeight + 8
        for (label, color, dashed) in [("ocishim Private_Dirty", Self.colors[ScaleReport.shim]!, false),
                                       ("ocishim PSS", Self.colors[ScaleReport.shim]!, true),
                                       ("conmon Private_Dirty", Self.colors[ScaleReport.counterpart]!, false),
                                       ("conmon PSS", Self.colors[ScaleReport.counterpart]!, true),
                                       ("runc alone (bursts, 1 engine)", "#888888", true)] {
            let itemWidth = 30 + Double(label.count) * 6 + 16
            if legendX + itemWidth > width {
                legendX = 60
                legendY += 16
            }
            out += "<line x1=\"\(legendX)\" y1=\"\(legendY - 4)\" x2=\"\(legendX + 22)\" y2=\"\(legendY - 4)\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"5,3\"" : "")/>"
            out += "<text x=\"\(legendX + 26)\" y=\"\(legendY)\">\(label)</text>\n"
            legendX += itemWidth
        }
        return out + "</svg>\n"
    }

    var memorySeries: [Series] {
        [ScaleReport.shim, ScaleReport.counterpart].flatMap { monitor -> [Series] in
            let steps = report.steps(monitor)
            let color = Self.colors[monitor] ?? "black"
            return [Series(label: "\(monitor) Private_Dirty", color: color, dashed: false,
                           points: steps.map { (Double($0.containers), $0.privateDirtyKB.median) }),
                    Series(label: "\(monitor) PSS", color: color, dashed: true,
                           points: steps.map { (Double($0.containers), $0.pssKB.median) })]
        }
    }

    var latencySeries: [Series] {
        var series = [ScaleReport.shim, ScaleReport.counterpart].map { monitor in
            Series(label: monitor, color: Self.colors[monitor] ?? "black", dashed: false,
                   points: (report.scale.ramp[monitor] ?? []).map { (Double($0.to), $0.createToRunningMs.median) })
        }
        if let raw = report.burstMedian(ScaleReport.runtime, engines: 1),
           let last = series.flatMap(\.points).map(\.x).max() {
            series.append(Series(label: "runc alone", color: "#888888", dashed: true, points: [(0, raw), (last, raw)]))
        }
        return series
    }

    /// One panel: axes from 0, ticks at round numbers, a polyline and dots
    /// per series.
    private func panel(x originX: Double, title: String, unit: String, series: [Series]) -> String {
        let m = Self.margin
        let plotWidth = Self.panelWidth - m.left - m.right
        let plotHeight = Self.panelHeight - m.top - m.bottom
        let points = series.flatMap(\.points)
        let xTicks = Self.ticks(upTo: points.map(\.x).max() ?? 1)
        let yTicks = Self.ticks(upTo: (points.map(\.y).max() ?? 1) * 1.05)
        let xMax = xTicks.last ?? 1
        let yMax = yTicks.last ?? 1
        let px = { (x: Double) in originX + m.left + x / xMax * plotWidth }
        let py = { (y: Double) in m.top + plotHeight - y / yMax * plotHeight }
        var out = "<g>\n<text x=\"\(originX + m.left)\" y=\"18\" font-size=\"12\" font-weight=\"bold\">\(title)</text>\n"
        for tick in yTicks {
            let y = Self.r(py(tick))
            out += "<line x1=\"\(Self.r(px(0)))\" y1=\"\(y)\" x2=\"\(Self.r(px(xMax)))\" y2=\"\(y)\" stroke=\"#e4e4e4\"/>"
            out += "<text x=\"\(Self.r(px(0) - 6))\" y=\"\(Self.r(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
        }
        for tick in xTicks {
            out += "<text x=\"\(Self.r(px(tick)))\" y=\"\(Self.r(m.top + plotHeight + 16))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        out += "<line x1=\"\(Self.r(px(0)))\" y1=\"\(Self.r(py(0)))\" x2=\"\(Self.r(px(xMax)))\" y2=\"\(Self.r(py(0)))\" stroke=\"black\"/>"
        out += "<line x1=\"\(Self.r(px(0)))\" y1=\"\(Self.r(py(0)))\" x2=\"\(Self.r(px(0)))\" y2=\"\(Self.r(py(yMax)))\" stroke=\"black\"/>\n"
        out += "<text x=\"\(Self.r(px(xMax / 2)))\" y=\"\(Self.r(m.top + plotHeight + 32))\" text-anchor=\"middle\">idle containers on the host</text>\n"
        out += "<text x=\"\(Self.r(originX + 14))\" y=\"\(Self.r(m.top + plotHeight / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 \(Self.r(originX + 14)) \(Self.r(m.top + plotHeight / 2)))\">\(unit)</text>\n"
        for line in series where !line.points.isEmpty {
            let coordinates = line.points.map { "\(Self.r(px($0.x))),\(Self.r(py($0.y)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"5,3\"" : "") points=\"\(coordinates)\"><title>\(line.label)</title></polyline>\n"
            if line.points.count <= 30 && line.label != "runc alone" {
                for point in line.points {
                    out += "<circle cx=\"\(Self.r(px(point.x)))\" cy=\"\(Self.r(py(point.y)))\" r=\"2.5\" fill=\"\(line.color)\"><title>\(line.label): \(Self.label(point.x)) containers, \(Report.fmt(point.y, digits: 1)) \(unit)</title></circle>"
                }
                out += "\n"
            }
        }
        return out + "</g>\n"
    }

    /// 0 and round steps (1, 2 or 5 × 10^n) up to at least `top`.
    static func ticks(upTo top: Double) -> [Double] {
        let top = max(top, 1e-9)
        let rough = top / 5
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? rough
        let count = Int((top / step).rounded(.up))
        return (0...count).map { Double($0) * step }
    }

    static func r(_ value: Double) -> String { Report.fmt(value, digits: 1) }

    static func label(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : Report.fmt(value, digits: 1)
    }
}
