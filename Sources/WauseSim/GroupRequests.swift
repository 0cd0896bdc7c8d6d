import WauseBinary
import WauseProtocol
import WauseSupport

/// The `w:g2` iqs of a logged-in device (whatsmeow group.go; Baileys groups.ts), read with `GroupStanzas.Request` and answered from the server's groups
/// (`GroupOperations`) with `GroupStanzas.Group`/`Participant` nodes:
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
/// | group | set | `<accept code expiration admin/>` (an invitation message's code) | result; 404 unknown or not theirs, 410 expired, 409 already a member |
extension ChatEndpoint {
    func groupRequest(_ node: Node, id: String, device: SimDevice) throws -> DeviceRequests.Reply? {
        guard let account = try state.account(phone: device.phone) else { return nil }
        let groups = router.groups
        let request: GroupStanzas.Request
        do throws(GroupStanzas.RequestError) {
            request = try GroupStanzas.Request(parsing: node)
        } catch {
            logger.debug("\(device.jid): w:g2 \(node.children.first?.tag ?? "-") unreadable \(error.code)")
            return .answer(ChatEndpoint.error(id, code: error.code, text: error.text))
        }
        do throws(GroupFailure) {
            return .answer(try answer(request, id: id, account: account, groups: groups))
        } catch {
            logger.debug("\(device.jid): w:g2 \(node.children.first?.tag ?? "-") to \(MessageRouter.jid(node, "to")?.description ?? "-") refused \(error.code)")
            return .answer(ChatEndpoint.error(id, code: error.code, text: error.text))
        }
    }

    private func answer(_ request: GroupStanzas.Request, id: String, account: SimAccount, groups: GroupOperations) throws(GroupFailure) -> Node {
        switch request {
        case .create(let subject, let key, let jids):
            // A group is LID-addressed when its creator names the members by LID (today's clients do); else by phone number.
            let mode: SimGroup.AddressingMode = !jids.isEmpty && jids.allSatisfy({ $0.server == .lid }) ? .lid : .pn
            let (group, outcomes) = try groups.create(by: account, subject: subject, participants: jids, key: key, addressingMode: mode)
            let refused = outcomes.filter { $0.error != nil }.map { groups.outcome($0, in: group) }
            return ChatEndpoint.result(id, [try groups.described(group).node(extra: refused)])
        case .participating:
            let mine: [SimGroup]
            do { mine = try state.groups(of: account.phone) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
            var nodes: [Node] = []
            for group in mine { nodes.append(try groups.groupNode(group)) }
            return ChatEndpoint.result(id, [Node(tag: "groups", children: nodes)])
        case .preview(let code):
            return ChatEndpoint.result(id, [try groups.groupNode(try groups.preview(code: code))])
        case .join(let code):
            let group = try groups.join(code: code, by: account)
            return ChatEndpoint.result(id, [Node(tag: "group", attributes: ["jid": .jid(group.jid)])])
        case .leave(let jids):
            var left: [Node] = []
            for jid in jids {
                do {
                    _ = try groups.leave(jid.user, by: account)
                    left.append(Node(tag: "group", attributes: ["id": .jid(jid)]))
                } catch {
                    left.append(Node(tag: "group", attributes: ["id": .jid(jid), "error": .text(String(error.code))]))
                }
            }
            // One group asked and refused: the iq fails with that code, as whatsmeow LeaveGroup expects.
            if left.count == 1, let code = left[0][attribute: "error"].flatMap(Int.init) {
                throw code == 404 ? .noGroup : code == 403 ? .notInGroup : GroupFailure(code: code, text: "error")
            }
            return ChatEndpoint.result(id, [Node(tag: "leave", children: left)])
        case .info(let group):
            return ChatEndpoint.result(id, [try groups.groupNode(try groups.info(group.user, for: account))])
        case .updateParticipants(let group, let tag, let jids):
            let action = GroupOperations.MembershipAction(rawValue: tag)!
            let (updated, outcomes) = try groups.updateParticipants(group.user, by: account, action: action, participants: jids)
            return ChatEndpoint.result(id, [Node(tag: tag, children: outcomes.map { groups.outcome($0, in: updated).node })])
        case .subject(let group, let name):
            _ = try groups.setSubject(group.user, by: account, subject: name)
            return ChatEndpoint.result(id)
        case .description(let group, let topic, let topicID, let previous):
            _ = try groups.setTopic(group.user, by: account, topic: topic, topicID: topicID, previous: previous)
            return ChatEndpoint.result(id)
        case .inviteCode(let group, let reset):
            let code = try groups.inviteCode(group.user, by: account, reset: reset)
            return ChatEndpoint.result(id, [Node(tag: "invite", attributes: ["code": .text(code)])])
        case .accept(let group, let code, _, _):
            _ = try groups.accept(group.user, code: code, by: account)
            return ChatEndpoint.result(id)
        case .setting(let group, let name):
            _ = try groups.apply(GroupOperations.Setting(rawValue: name)!, to: group.user, by: account)
            return ChatEndpoint.result(id)
        }
    }
}
