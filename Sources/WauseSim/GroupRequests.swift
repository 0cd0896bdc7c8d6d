import WauseBinary
import WauseSupport

/// The `w:g2` iqs of a logged-in device (whatsmeow group.go; Baileys groups.ts; PM §7.2, C.1,
/// C.4), answered from the server's groups (`GroupOperations`):
///
/// | to | type | child | answer |
/// |---|---|---|---|
/// | `@g.us` | set | `<create subject [key]><participant jid/>…</create>` | `<group …>` with every participant; refused ones carry `error` (403 with `<add_request code expiration/>`, 404 not on WhatsApp) |
/// | `@g.us` | get | `<participating><participants/><description/></participating>` | `<groups><group …/>…</groups>` |
/// | `@g.us` | get / set | `<invite code/>` | preview `<group …>` / join `<group jid/>`; 410 reset code, 404 unknown, 406 malformed, 409 already a member |
/// | `@g.us` | set | `<leave><group id/>…</leave>` | `<leave><group id/>…</leave>`, a refused one with `error` |
/// | group | get | `<query request="interactive"/>` | `<group …>`; 404 unknown group, 403 not a member |
/// | group | set | `<add|remove|promote|demote><participant jid/>…</…>` | the same element with a per-participant `error` where refused; 401 not an admin |
/// | group | set | `<subject>text</subject>` · `<description id [prev]><body/></description>` or `delete="true"` | result; 406 empty or too long, 409 stale `prev`, 401 locked group and not an admin |
/// | group | get / set | `<invite/>` | `<invite code/>` (set: a new code, the old one is gone); 401 not an admin |
/// | group | set | `<announcement/>` `<not_announcement/>` `<locked/>` `<unlocked/>` | result; 401 not an admin |
extension ChatEndpoint {
    func groupRequest(_ node: Node, id: String, device: SimDevice) throws -> DeviceRequests.Reply? {
        guard let account = try state.account(phone: device.phone) else { return nil }
        let groups = router.groups
        let to = MessageRouter.jid(node, "to")
        guard let to, to.server == .group else { return .answer(ChatEndpoint.error(id, code: 400, text: "bad-request")) }
        let set = node[attribute: "type"] == "set"
        guard let child = node.children.first else { return .answer(ChatEndpoint.error(id, code: 400, text: "bad-request")) }
        do throws(GroupFailure) {
            if to.user.isEmpty {
                return .answer(try serverGroupRequest(child, set: set, id: id, account: account, device: device, groups: groups))
            }
            let group = to.user
            switch (set, child.tag) {
            case (false, "query"):
                return .answer(ChatEndpoint.result(id, [try groups.groupNode(try groups.info(group, for: account))]))
            case (true, "add"), (true, "remove"), (true, "promote"), (true, "demote"):
                let action = GroupOperations.MembershipAction(rawValue: child.tag)!
                let jids = child.children("participant").compactMap { MessageRouter.jid($0, "jid") }
                guard !jids.isEmpty else { throw GroupFailure.badRequest }
                let (updated, outcomes) = try groups.updateParticipants(group, by: account, action: action, participants: jids)
                return .answer(ChatEndpoint.result(id, [Node(tag: child.tag, children: outcomes.map { groups.outcomeNode($0, in: updated) })]))
            case (true, "subject"):
                guard let text = child.text ?? child.bytes.flatMap({ String(validating: $0, as: UTF8.self) }) else { throw GroupFailure.notAcceptable }
                _ = try groups.setSubject(group, by: account, subject: text)
                return .answer(ChatEndpoint.result(id))
            case (true, "description"):
                let delete = child[attribute: "delete"] == "true" || child.child("delete") != nil
                var topic: String?
                if !delete {
                    guard let body = child.child("body"), let text = body.text ?? body.bytes.flatMap({ String(validating: $0, as: UTF8.self) })
                    else { throw GroupFailure.badRequest }
                    topic = text
                }
                _ = try groups.setTopic(group, by: account, topic: topic, topicID: child[attribute: "id"], previous: child[attribute: "prev"])
                return .answer(ChatEndpoint.result(id))
            case (_, "invite"):
                let code = try groups.inviteCode(group, by: account, reset: set)
                return .answer(ChatEndpoint.result(id, [Node(tag: "invite", attributes: ["code": .text(code)])]))
            case (true, "announcement"), (true, "not_announcement"), (true, "locked"), (true, "unlocked"):
                _ = try groups.apply(GroupOperations.Setting(rawValue: child.tag)!, to: group, by: account)
                return .answer(ChatEndpoint.result(id))
            default:
                return .answer(ChatEndpoint.error(id, code: 501, text: "feature-not-implemented"))
            }
        } catch {
            logger.debug("\(device.jid): w:g2 \(child.tag) to \(to) refused \(error.code)")
            return .answer(ChatEndpoint.error(id, code: error.code, text: error.text))
        }
    }

    /// The iqs addressed to `@g.us` itself.
    private func serverGroupRequest(_ child: Node, set: Bool, id: String, account: SimAccount, device: SimDevice, groups: GroupOperations)
        throws(GroupFailure) -> Node
    {
        switch (set, child.tag) {
        case (true, "create"):
            guard let subject = child[attribute: "subject"] else { throw .notAcceptable }
            var jids: [JID] = []
            for participant in child.children("participant") {
                guard let jid = MessageRouter.jid(participant, "jid") else { throw .badRequest }
                if !jids.contains(where: { $0.user == jid.user && $0.server == jid.server }) { jids.append(jid) }
            }
            // A group is LID-addressed when its creator names the members by LID (today's clients do); else by phone number.
            let mode: SimGroup.AddressingMode = !jids.isEmpty && jids.allSatisfy({ $0.server == .lid }) ? .lid : .pn
            let (group, outcomes) = try groups.create(by: account, subject: subject, participants: jids, key: child[attribute: "key"],
                                                      addressingMode: mode)
            let node = try groups.groupNode(group)
            let refused = outcomes.filter { $0.error != nil }.map { groups.outcomeNode($0, in: group) }
            return ChatEndpoint.result(id, [Node(tag: "group", attributes: node.attributes, children: node.children + refused)])
        case (false, "participating"):
            let mine: [SimGroup]
            do { mine = try state.groups(of: account.phone) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
            var nodes: [Node] = []
            for group in mine { nodes.append(try groups.groupNode(group)) }
            return ChatEndpoint.result(id, [Node(tag: "groups", children: nodes)])
        case (_, "invite"):
            guard let code = child[attribute: "code"] else { throw .badRequest }
            if !set { return ChatEndpoint.result(id, [try groups.groupNode(try groups.preview(code: code))]) }
            let group = try groups.join(code: code, by: account)
            return ChatEndpoint.result(id, [Node(tag: "group", attributes: ["jid": .jid(group.jid)])])
        case (true, "leave"):
            var left: [Node] = []
            for entry in child.children("group") {
                guard let jid = MessageRouter.jid(entry, "id") else { throw .badRequest }
                do {
                    _ = try groups.leave(jid.user, by: account)
                    left.append(Node(tag: "group", attributes: ["id": .jid(jid)]))
                } catch {
                    left.append(Node(tag: "group", attributes: ["id": .jid(jid), "error": .text(String(error.code))]))
                }
            }
            guard !left.isEmpty else { throw .badRequest }
            // One group asked and refused: the iq fails with that code, as whatsmeow LeaveGroup expects.
            if left.count == 1, let code = left[0][attribute: "error"].flatMap(Int.init) {
                throw code == 404 ? .noGroup : code == 403 ? .notInGroup : GroupFailure(code: code, text: "error")
            }
            return ChatEndpoint.result(id, [Node(tag: "leave", children: left)])
        default:
            throw GroupFailure(code: 501, text: "feature-not-implemented")
        }
    }
}
