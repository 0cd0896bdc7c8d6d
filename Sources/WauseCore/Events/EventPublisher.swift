import WauseSupport

/// How features announce what happened: logs an event into the event log, unless the client is
/// closed. A store failure here is logged, not thrown, because the protocol step that caused the
/// event has already happened.
struct EventPublisher: Sendable {
    let events: EventLog
    let status: ConnectionStatus
    let logger: Logger

    func publish(_ name: EventName, _ data: JSONObject) {
        // A connection task can outlive close() by a moment; the store is gone by then.
        if status.isClosed { return }
        do {
            try events.publish(name, data)
        } catch {
            logger.error("cannot log event \(name.rawValue): \(error.message)")
        }
    }
}
