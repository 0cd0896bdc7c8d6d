import WauseBinary
import WauseProtocol
import WauseSupport

/// What a client asks before it encrypts (whatsmeow user.go GetUserDevices; prekeys.go fetchPreKeys): which devices a user
/// has (a usync `devices` query, with the LID when `<lid/>` is asked) and the prekey bundles of
/// the devices it has no session with.
enum UserDevices {
    /// `<usync><list><user jid="as asked"><devices><device-list><device id="0"/><device id="N"
    /// key-index="K"/>…</device-list><key-index-list ts/></devices>[<lid val/>]</user>…`. Devices
    /// in the addressing form asked (the JID's server). A user that is not on WhatsApp gets an
    /// empty device list (whatsmeow's `parseDeviceList` and Baileys' parser both read that as no
    /// devices). Companions carry their key index: Baileys skips companions without one.
    static func usync(_ node: Node, id: String, state: SimState) throws(WauseError) -> Node {
        guard let usync = node.child("usync"), let list = usync.child("list") else {
            return ChatEndpoint.error(id, code: 400, text: "bad-request")
        }
        let query = usync.child("query")
        let wantsDevices = query?.child("devices") != nil
        let wantsLID = query?.child("lid") != nil
        var users: [Node] = []
        for user in list.children("user") {
            guard let asked = MessageRouter.jid(user, "jid") else { continue }
            let children = try userNodes(asked: asked, account: try state.account(jid: asked), wantsDevices: wantsDevices,
                                         wantsLID: wantsLID, state: state)
            users.append(Node(tag: "user", attributes: ["jid": .jid(JID(user: asked.user, server: asked.server))], children: children))
        }
        var attributes: Attributes = [:]
        for name in ["sid", "mode", "last", "index", "context"] {
            if let value = usync.attributes[name] { attributes[name] = value }
        }
        return ChatEndpoint.result(id, [Node(tag: "usync", attributes: attributes, children: [Node(tag: "list", children: users)])])
    }

    /// One user's `<devices>` and `<lid>` nodes (ContactRequests.swift answers the other protocols beside them).
    static func userNodes(asked: JID, account: SimAccount?, wantsDevices: Bool, wantsLID: Bool, state: SimState) throws(WauseError) -> [Node] {
        var children: [Node] = []
        if wantsDevices {
            var devices = [Node(tag: "device", attributes: ["id": "0"])]
            var newest: Int64 = 0
            if let account {
                for device in try state.devices(phone: account.phone) {
                    var attributes: Attributes = ["id": .text(String(device.device))]
                    attributes["key-index"] = .text(String(device.keyIndex ?? device.device))
                    devices.append(Node(tag: "device", attributes: attributes))
                    newest = max(newest, device.linkedAt.seconds)
                }
            }
            children.append(Node(tag: "devices", children: account == nil ? [Node(tag: "device-list")] : [
                Node(tag: "device-list", children: devices),
                Node(tag: "key-index-list", attributes: ["ts": .text(String(newest))]),
            ]))
        }
        if wantsLID, let account {
            children.append(Node(tag: "lid", attributes: ["val": .jid(JID(user: account.lid, server: .lid))]))
        }
        return children
    }

    /// `<list><user jid><registration/><type/><identity/><skey><id/><value/><signature/></skey>
    /// [<key><id/><value/></key>]</user>…</list>`; a one-time prekey is handed out once. A device
    /// that does not exist or has no keys: `<user jid><error code="404" text="item-not-found"/></user>`.
    /// Also answers the companions whose one-time prekeys ran low (`MessageRouter.notifyPreKeyCount`).
    static func bundles(_ node: Node, id: String, state: SimState) throws(WauseError) -> (Node, [(phone: String, device: Int)]) {
        guard let key = node.child("key") else { return (ChatEndpoint.error(id, code: 400, text: "bad-request"), []) }
        var low: [(phone: String, device: Int)] = []
        var users: [Node] = []
        for user in key.children("user") {
            guard let device = MessageRouter.jid(user, "jid") else { continue }
            guard let endpoint = try state.endpoint(device), let bundle = try state.takeBundle(endpoint) else {
                users.append(PreKeyStanzas.missingBundleUser(device: device))
                continue
            }
            if endpoint.device != 0, bundle.oneTimePreKey != nil,
                try state.preKeyCount(phone: endpoint.account.phone, device: endpoint.device) < MessageRouter.preKeyMinimum {
                low.append((endpoint.account.phone, endpoint.device))
            }
            users.append(PreKeyStanzas.bundleUser(device: device, keys: bundle.publicKeys, oneTime: bundle.oneTimePreKey))
        }
        return (ChatEndpoint.result(id, [Node(tag: "list", children: users)]), low)
    }
}
