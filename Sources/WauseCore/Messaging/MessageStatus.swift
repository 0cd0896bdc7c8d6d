/// Where a message of ours stands (docs/DESIGN.md "Errors": message statuses). The raw values
/// are what the store keeps and what results and events show; code compares the cases.
public enum MessageStatus: String, Sendable, CaseIterable {
    case scheduled, queued, sent, delivered, read, failed, cancelled

    /// How far along the delivery path a status is: a receipt moves a message only forward
    /// (a late `delivered` never undoes `read`). Statuses off that path rank nowhere.
    var progress: Int? {
        switch self {
        case .queued: return 0
        case .sent: return 1
        case .delivered: return 2
        case .read: return 3
        case .scheduled, .failed, .cancelled: return nil
        }
    }
}
