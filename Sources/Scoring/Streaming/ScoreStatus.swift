/// Why a point got the output it got (`metadata.status`, the CSV `status` column).
public enum ScoreStatus: String, Sendable, CaseIterable {
    case scored
    case modelNotReady = "model_not_ready"
    case warmingUp = "warming_up"
    case staticThreshold = "static_threshold"
}
