import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// `<notification type="w:gp2" from=GROUP participant=ACTOR>` (whatsmeow group.go
/// parseGroupNotification, parseGroupChange, parseGroupCreate): one change per child — `create`
/// (the whole `<group>`), `add`/`remove`/`promote`/`demote` (its `<participant>`s), `subject`,
/// `description` (`<body>` or `<delete/>`), `announcement`/`not_announcement`,
/// `locked`/`unlocked`, `invite`. Each updates the stored group and becomes an event:
/// `group.created`, `group.participants_changed` or `group.updated`. Being removed makes the
/// group's chat read-only; being added to a group we do not know yet fetches its metadata.
struct GroupNotifications: Sendable {
    let store: Store
    let environment: Environment
    let logger: Logger
    let publisher: EventPublisher

    func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "w:gp2")) { [self] node, session in handle(node, session: session) }
    }

    /// Stores the change, announces it, and only then acks the notification (the session leaves
    /// `w:gp2` to this handler), so a change the store could not take comes again.
    func handle(_ node: Node, session: ConnectionSession) {
        guard let group = node.jid("from") ?? node[attribute: "from"].flatMap({ JID($0) }), group.server == .group else {
            if let ack = Acknowledgement.ack(for: node) { try? session.connection.send(ack) }
            return
        }
        let actor = node.jid("participant") ?? node[attribute: "participant"].flatMap { JID($0) }
        let now = environment.now()
        let by: JSONValue = actor.map { .string(JID(user: $0.user, server: $0.server).description) } ?? .null
        let groupID = group.description
        do {
            for change in node.children {
                let parsed: GroupStanzas.Change
                do { parsed = try GroupStanzas.Change(parsing: change) } catch {
                    // A kind of change we do not follow (ephemeral settings, approvals …) is routine; a malformed one of ours is not.
                    if GroupNotifications.followed.contains(change.tag) {
                        logger.warning("w:gp2 \(change.tag) for \(groupID) unreadable: \(error)")
                    } else {
                        logger.debug("w:gp2 \(change.tag) for \(groupID) not handled")
                    }
                    continue
                }
                switch parsed {
                case .create(var described, _):
                    described.jid = group
                    let own = try Groups.ownJIDs(store)
                    let member = Groups.isMember(described, own: own)
                    try store.saveGroup(described, isParticipant: member, now: now)
                    publisher.publish(.groupCreated, ["group_id": .string(groupID), "name": .string(described.name), "by": by,
                                                      "participants": .array(described.participants.map { .string($0.jid.description) })])
                case .membership(let action, let participants, _, _, let reason):
                    let known = try store.group(jid: groupID) != nil
                    let own = try Groups.ownJIDs(store)
                    try store.updateGroupParticipants(jid: groupID, action: action, participants: participants, ours: own, now: now)
                    publisher.publish(.groupParticipantsChanged, [
                        "group_id": .string(groupID), "action": .string(action == "leave" ? "remove" : action), "by": by,
                        "participants": .array(participants.map { .string($0.jid.description) }),
                        "reason": JSONValue(reason),
                    ])
                    let weAreIn = Groups.isMember(GroupStanzas.Group(jid: group, name: "", participants: participants), own: own)
                    if action == "remove" || action == "leave", !weAreIn { try rotateOwnSenderKey(group) }
                    if action == "add", weAreIn || !known { refresh(group, session: session) }
                case .subject(let name, _, _, _):
                    try store.updateGroup(jid: groupID, name: name, now: now)
                    publisher.publish(.groupUpdated, ["group_id": .string(groupID), "by": by, "name": .string(name)])
                case .description(let topic, let topicID):
                    try store.updateGroup(jid: groupID, topic: .some(topic), topicID: topicID, now: now)
                    publisher.publish(.groupUpdated, ["group_id": .string(groupID), "by": by, "topic": JSONValue(topic)])
                case .setting("announcement", _), .setting("not_announcement", _):
                    try store.updateGroup(jid: groupID, announce: change.tag == "announcement", now: now)
                    publisher.publish(.groupUpdated, ["group_id": .string(groupID), "by": by, "announce": .bool(change.tag == "announcement")])
                case .setting:
                    try store.updateGroup(jid: groupID, locked: change.tag == "locked", now: now)
                    publisher.publish(.groupUpdated, ["group_id": .string(groupID), "by": by, "locked": .bool(change.tag == "locked")])
                case .invite(let code):
                    if let code { try store.updateGroup(jid: groupID, inviteCode: code, now: now) }
                    publisher.publish(.groupUpdated, ["group_id": .string(groupID), "by": by, "invite_link_changed": true])
                }
            }
        } catch {
            // Not acknowledged: the server delivers it again.
            logger.error("group notification for \(groupID): \(error)")
            return
        }
        if let ack = Acknowledgement.ack(for: node) { try? session.connection.send(ack) }
    }

    /// The changes `GroupStanzas.Change` reads.
    static let followed: Set<String> = GroupStanzas.Change.membershipActions.union(GroupStanzas.Request.settings)
        .union(["create", "subject", "description", "invite"])

    /// Someone else left or was removed: our next message goes under a new sender key.
    private func rotateOwnSenderKey(_ group: JID) throws(WauseError) {
        guard let account = try store.linkedAccount(), let device = JID(account.jid) else { return }
        var senders = [MessageFormat.address(of: device).description]
        if let lid = account.lid.flatMap({ JID($0) }) {
            senders.append(MessageFormat.address(of: JID(user: lid.user, device: device.device, server: .lid)).description)
        }
        try store.forgetOwnSenderKey(group: group.description, senders: senders)
    }

    /// Fetches and stores the group's metadata (we were added, or it is new to us).
    private func refresh(_ group: JID, session: ConnectionSession) {
        GroupNotifications.fetchInBackground(group, session: session, store: store, environment: environment, logger: logger)
    }

    /// Asks the server for a group's metadata on the connection's own time (a task of the
    /// session, ended with it) and stores it: for a group we learn of from a notification or a
    /// message before we know it.
    static func fetchInBackground(_ group: JID, session: ConnectionSession, store: Store, environment: Environment, logger: Logger) {
        session.spawn {
            let connection = session.connection
            do {
                let answer = try await connection.query(GroupStanzas.info(id: connection.nextID(), group: group),
                                                        timeout: ServerConnection.queryTimeout, environment: environment)
                guard GroupStanzas.errorCode(answer) == nil, let node = answer.child("group") else { return }
                let parsed = try GroupStanzas.Group(parsing: node)
                let own = try Groups.ownJIDs(store)
                try store.saveGroup(parsed, isParticipant: Groups.isMember(parsed, own: own), now: environment.now())
            } catch {
                logger.warning("group info for \(group): \(error)")
            }
        }
    }
}
