import WauseBinary
import WauseProtocol
import WauseSupport

/// What a linked device asks about other people (issue 14): the usync `contact` query (who is on WhatsApp,
/// whatsmeow user.go IsOnWhatsApp), the `status`/`business`/`picture` protocols (GetUserInfo) beside
/// `devices`/`lid` (UserDevices.swift), and the `w:profile:picture` iq (GetProfilePictureInfo), whose URL
/// points at this simulator's media host.
extension ChatEndpoint {
    /// A usync that asks more than devices and LIDs; nil leaves it to `UserDevices.usync`.
    func contactUsync(_ node: Node, id: String) throws(WauseError) -> Node? {
        guard let request = USyncRequest(parsing: node),
            !request.protocols.isDisjoint(with: ["contact", "status", "business", "picture"])
        else { return nil }
        var users: [Node] = []
        for user in request.users {
            let asked: JID
            var children: [Node] = []
            if let jid = user.jid {
                asked = JID(user: jid.user, server: jid.server)
            } else if let text = user.contact, let digits = USyncRequest.contactDigits(text) {
                asked = JID(user: digits, server: .whatsApp)
            } else {
                continue
            }
            let account = try state.account(jid: asked)
            if request.has("contact") {
                children.append(USyncContacts.answer(query: user.contact ?? "+" + asked.user, registered: account != nil))
            }
            if let account, let profile = try state.profile(phone: account.phone) {
                if request.has("status") { children.append(USyncUserInfo.statusAnswer(profile.about, setAt: profile.aboutSetAt)) }
                if request.has("business"), profile.business { children.append(USyncUserInfo.businessAnswer()) }
                if request.has("picture"), let pictureID = profile.pictureID { children.append(USyncUserInfo.pictureAnswer(id: pictureID)) }
            }
            children += try UserDevices.userNodes(asked: asked, account: account, wantsDevices: request.has("devices"),
                                                  wantsLID: request.has("lid"), state: state)
            users.append(Node(tag: "user", attributes: ["jid": .jid(asked)], children: children))
        }
        return ChatEndpoint.result(id, [request.answer(users: users)])
    }

    /// `<picture id url direct_path type/>` for an account with a picture; 404 without one or for an
    /// unknown target (groups have none here).
    func profilePictureRequest(_ node: Node, id: String) throws(WauseError) -> DeviceRequests.Reply {
        guard let request = ProfilePictureStanzas.Request(parsing: node) else {
            return .answer(ChatEndpoint.error(id, code: 400, text: "bad-request"))
        }
        guard let account = try state.account(jid: request.target), let profile = try state.profile(phone: account.phone),
            let pictureID = profile.pictureID, let path = profile.picturePath
        else { return .answer(ChatEndpoint.error(id, code: 404, text: "item-not-found")) }
        let picture = ProfilePictureStanzas.Picture(id: pictureID, url: media.baseURL + path, directPath: path,
                                                    type: request.preview ? "preview" : "image")
        return .answer(ChatEndpoint.result(id, [picture.node]))
    }
}
