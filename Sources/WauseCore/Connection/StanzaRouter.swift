import WauseBinary

/// The table that hands each stanza from the server to the area that handles it, as whatsmeow's
/// `client.go` keeps `nodeHandlers` by tag (and `handleIQ`, `handleNotification` dispatch further
/// by child and type). A connection fills its own table: a linking connection routes the pairing
/// stanzas, a logged-in one messages and receipts, so "who handles what, when" is read in one place.
struct StanzaRouter: Sendable {
    typealias Handler = @Sendable (Node, ConnectionSession) async -> Void

    /// What a route matches, from the most to the least specific.
    enum Route: Hashable, Sendable, CustomStringConvertible {
        /// An `<iq>` whose only child has this tag (`pair-device`, `pair-success`).
        case iqChild(String)
        /// An `<iq>` with this `xmlns` (`urn:xmpp:ping`).
        case iqNamespace(String)
        /// A stanza with this tag and `type` attribute (`notification` `devices`).
        case typed(tag: String, type: String)
        /// Any stanza with this tag.
        case tag(String)

        var description: String {
            switch self {
            case .iqChild(let child): return "iq/\(child)"
            case .iqNamespace(let namespace): return "iq xmlns=\(namespace)"
            case .typed(let tag, let type): return "\(tag) type=\(type)"
            case .tag(let tag): return tag
            }
        }
    }

    private var handlers: [Route: Handler] = [:]

    /// Adds a route; a route is handled by exactly one area.
    mutating func on(_ route: Route, _ handler: @escaping Handler) {
        precondition(handlers[route] == nil, "two handlers for \(route)")
        handlers[route] = handler
    }

    /// The routes a stanza can match, most specific first.
    static func routes(for node: Node) -> [Route] {
        var routes: [Route] = []
        if node.tag == "iq" {
            if node.children.count == 1 { routes.append(.iqChild(node.children[0].tag)) }
            if let namespace = node[attribute: "xmlns"] { routes.append(.iqNamespace(namespace)) }
        }
        if let type = node[attribute: "type"] { routes.append(.typed(tag: node.tag, type: type)) }
        routes.append(.tag(node.tag))
        return routes
    }

    /// The handler of the most specific route the stanza matches, if any.
    func handler(for node: Node) -> Handler? {
        for route in StanzaRouter.routes(for: node) {
            if let handler = handlers[route] { return handler }
        }
        return nil
    }

    var routes: Set<Route> { Set(handlers.keys) }
}
