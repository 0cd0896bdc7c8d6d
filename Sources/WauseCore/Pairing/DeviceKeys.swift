import Synchronization
import WauseSupport

/// This device's keys as the engine uses them now: generated on the store's first open, given the
/// ADV secret at pairing, replaced when the device logs out. Shared by the features that sign,
/// register or show a QR code with them, so none of them needs the client.
final class DeviceKeys: Sendable {
    private let identity: Mutex<DeviceIdentity>

    init(_ identity: DeviceIdentity) { self.identity = Mutex(identity) }

    var current: DeviceIdentity { identity.withLock { $0 } }

    func update(_ change: (inout DeviceIdentity) -> Void) {
        identity.withLock { change(&$0) }
    }

    func replace(with fresh: DeviceIdentity) {
        identity.withLock { $0 = fresh }
    }
}
