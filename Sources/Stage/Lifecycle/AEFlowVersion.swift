/// The release this build is (`aeflow --version`); raised with every release's changelog entry.
public enum AEFlowVersion {
    public static let current = "0.7.0"
}
