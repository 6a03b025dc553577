import TensorCore

extension Canvas {
    /// One chart per metric, stacked: values with expected values, the unified score with the alert threshold,
    /// alarms, and labelled windows when known.
    public static func backtest(title: String, table: MetricTable, rows: [BacktestRow], threshold: Float, windows: [LabelledWindow]) -> Canvas {
        let f = table.metrics.count
        let parts = (0..<f).map { c -> Canvas in
            var chart = SeriesChart(title: f == 1 ? title : "\(title) - \(table.metrics[c])",
                                    values: (0..<table.rows).map { table.values[$0, c] },
                                    scores: rows.map { $0.unified ?? .nan }, marked: [])
            chart.expected = rows.map { $0.expected?[c] ?? .nan }
            chart.alarms = Set(rows.indices.filter { rows[$0].isAnomaly == true })
            chart.threshold = threshold
            chart.windows = windows.map { $0.first...$0.last }
            return chart.render()
        }
        return Canvas.stack(parts)
    }
}
