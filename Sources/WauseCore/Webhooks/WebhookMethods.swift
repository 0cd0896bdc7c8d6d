import WauseSupport

/// The webhook methods (issue 16 "Signed webhooks"), toolset `delivery`.
enum WebhookMethods {
    static let toolset = "delivery"

    /// In catalogue order a webhook is added, listed, changed, tested and its deliveries read before
    /// it is deleted (the every-method suites call them in this order).
    static let all: [MethodDefinition] = [
        addWebhook.bindings(positional: ["url"]).inToolset(toolset)
            .summarized("Register an https:// (or loopback http://) URL that receives events as signed POSTs; the secret is shown once."),
        listWebhooks.bindings(positional: []).inToolset(toolset).summarized("The registered webhooks (never their secrets)."),
        updateWebhook.bindings(positional: ["webhook"]).raising(.notFound).inToolset(toolset)
            .summarized("Change a webhook's event filter or switch it off and on."),
        testWebhook.bindings(positional: ["webhook"]).raising(.notFound).inToolset(toolset)
            .summarized("Queue a signed webhook.test POST to a webhook."),
        listDeliveries.bindings(positional: []).raising(.notFound).inToolset(toolset)
            .summarized("Webhook deliveries, newest first: status, attempts, the last answer."),
        deleteWebhook.bindings(positional: ["webhook"]).raising(.notFound).inToolset(toolset)
            .summarized("Remove a webhook and its queued deliveries."),
    ]

    static let webhookSchema = Schema.object([
        ("id", Schema.string("the webhook id (wh_…)")), ("url", Schema.string("where events are POSTed")),
        ("filter", Schema.array(of: Schema.string(), "the events it takes: names or prefixes ending in '.'; empty: every event")),
        ("enabled", Schema.boolean("false: new events are not queued and queued ones wait")),
        ("source", Schema.string("method (whatsapp_add_webhook) or config (the webhooks config key)", enumeration: ["method", "config"])),
        ("created_at", Schema.string("ISO 8601 UTC")),
    ], required: ["id", "url", "filter", "enabled", "source", "created_at"])

    static let deliverySchema = Schema.object([
        ("delivery_id", Schema.integer("the delivery's number")),
        ("id", Schema.string("the Wause-Webhook-Id header: <account>:<cursor> (default:<cursor> for a single account)")),
        ("webhook", Schema.string("the webhook id")), ("event", Schema.string("the event name")),
        ("cursor", Schema.integer("the event's cursor (not for webhook.test)")),
        ("status", Schema.string("pending, delivered or failed", enumeration: ["pending", "delivered", "failed"])),
        ("attempts", Schema.integer("POSTs made so far")), ("created_at", Schema.string("ISO 8601 UTC")),
        ("next_attempt_at", Schema.string("ISO 8601 UTC (pending only)")),
        ("last_http_status", Schema.integer("the last answer's status")), ("last_error", Schema.string("why the last attempt failed")),
        ("finished_at", Schema.string("ISO 8601 UTC (delivered or failed)")),
    ], required: ["delivery_id", "id", "webhook", "event", "status", "attempts", "created_at"])

    static let eventsDescription = "event names (message.received) or prefixes ending in '.' (message.); omitted: every event"

    static let addWebhook = MethodDefinition(
        name: "whatsapp_add_webhook",
        title: "Add a webhook",
        description: """
            Register a URL that receives every event (or those named in events) as a JSON POST signed with HMAC-SHA256: headers \
            Wause-Webhook-Id (<account>:<cursor>, the same on every retry), Wause-Webhook-Timestamp (unix seconds) and \
            Wause-Webhook-Signature (v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>). A 2xx acknowledges; timeouts, \
            connection errors, 5xx, 408 and 429 are retried with backoff (Retry-After honoured) for up to 24 h; other answers fail \
            the delivery. https:// anywhere, http:// only to loopback. Events from now on are sent. The secret (generated when \
            omitted) is returned only here: keep it.
            """,
        inputSchema: Schema.object([
            ("url", Schema.string("https://… or http://127.0.0.1…", minLength: 1)),
            ("events", Schema.array(of: Schema.string(minLength: 1), eventsDescription)),
            ("secret", Schema.string("the signing secret, 16-256 bytes; generated when omitted", minLength: 1)),
        ], required: ["url"]),
        outputSchema: Schema.object([
            ("webhook", webhookSchema), ("secret", Schema.string("the signing secret: shown only now")),
        ], required: ["webhook", "secret"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let url = arguments["url"]?.stringValue ?? ""
            try WebhookTarget.checkURL(url)
            let events = try WebhookTarget.checkEvents((arguments["events"]?.arrayValue ?? []).compactMap(\.stringValue))
            let secret: String
            if let given = arguments["secret"]?.stringValue {
                try WebhookTarget.checkSecret(given)
                secret = given
            } else {
                secret = WebhookTarget.newSecret(random: context.environment.randomBytes)
            }
            let record = WebhookRecord(id: WebhookTarget.newID(random: context.environment.randomBytes), url: url, events: events,
                                       secret: secret, enabled: true, source: "method", cursor: context.events.latestCursor,
                                       createdAt: context.environment.now())
            try context.store.insertWebhook(record)
            context.webhooks.kick()
            return ["webhook": record.json, "secret": .string(secret)]
        }
    )

    static let listWebhooks = MethodDefinition(
        name: "whatsapp_list_webhooks",
        title: "List webhooks",
        description: "The registered webhooks: id, url, event filter, enabled, and whether a method or the config added them. Secrets are never shown.",
        inputSchema: Schema.object([], required: []),
        outputSchema: Schema.object([("webhooks", Schema.array(of: webhookSchema))], required: ["webhooks"]),
        annotations: .readOnlyLocal,
        handler: { context, _ throws(WauseError) in ["webhooks": .array(try context.store.webhooks().map(\.json))] }
    )

    /// The webhook the `webhook` argument names, looked up once: each method reads it, or has the
    /// store change it, and an id that names none is this `not_found`.
    static func named(_ arguments: JSONObject) -> String { arguments["webhook"]?.stringValue ?? "" }

    static func notFound(_ id: String) -> WauseError {
        WauseError(.notFound, "no webhook \(id) (whatsapp_list_webhooks lists them)", details: ["webhook": .string(id)])
    }

    static func existing(_ arguments: JSONObject, _ context: MethodContext) throws(WauseError) -> WebhookRecord {
        let id = named(arguments)
        guard let record = try context.store.webhook(id: id) else { throw notFound(id) }
        return record
    }

    static let webhookArgument = ("webhook", Schema.string("the webhook id (wh_…)", minLength: 1))

    static let updateWebhook = MethodDefinition(
        name: "whatsapp_update_webhook",
        title: "Update a webhook",
        description: """
            Change a webhook's event filter (events: [] for every event) or switch it off (enabled: false: new events are not \
            queued for it, queued ones wait) and on again. The URL and secret cannot change: add a new webhook and delete this one.
            """,
        inputSchema: Schema.object([
            webhookArgument, ("events", Schema.array(of: Schema.string(minLength: 1), eventsDescription)),
            ("enabled", Schema.boolean("false pauses it, true resumes")),
        ], required: ["webhook"]),
        outputSchema: Schema.object([("webhook", webhookSchema)], required: ["webhook"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: true, openWorld: false),
        handler: { context, arguments throws(WauseError) in
            let id = named(arguments)
            let events = try arguments["events"]?.arrayValue.map { list throws(WauseError) in try WebhookTarget.checkEvents(list.compactMap(\.stringValue)) }
            guard let updated = try context.store.updateWebhook(id: id, events: events, enabled: arguments["enabled"]?.boolValue) else {
                throw notFound(id)
            }
            context.webhooks.kick()
            return ["webhook": updated.json]
        }
    )

    static let deleteWebhook = MethodDefinition(
        name: "whatsapp_delete_webhook",
        title: "Delete a webhook",
        description: "Remove a webhook and every delivery queued or recorded for it. A webhook from the config key comes back at the next start unless removed there.",
        inputSchema: Schema.object([webhookArgument], required: ["webhook"]),
        outputSchema: Schema.object([("deleted", Schema.boolean("true")), ("webhook", Schema.string("the id"))], required: ["deleted", "webhook"]),
        annotations: MethodAnnotations(readOnly: false, destructive: true, idempotent: false, openWorld: false),
        handler: { context, arguments throws(WauseError) in
            let id = named(arguments)
            guard try context.store.deleteWebhook(id: id) else { throw notFound(id) }
            return ["deleted": true, "webhook": .string(id)]
        }
    )

    static let testWebhook = MethodDefinition(
        name: "whatsapp_test_webhook",
        title: "Test a webhook",
        description: """
            Queue a webhook.test event to the webhook (whatever its filter), signed and retried like any event; its id is \
            <account>:test-<n>. Follow it with whatsapp_list_webhook_deliveries.
            """,
        inputSchema: Schema.object([webhookArgument], required: ["webhook"]),
        outputSchema: Schema.object([("delivery", deliverySchema)], required: ["delivery"]),
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let record = try existing(arguments, context)
            let now = context.environment.now()
            let account = context.webhooks.account
            let delivery = try context.store.queueWebhookTest(webhookID: record.id, account: account, body: { id in
                JSONValue.object(["name": .string(WebhookTarget.testEvent), "ts": .string(now.iso8601),
                                  "data": ["webhook": .string(record.id), "delivery": .string("\(account):test-\(id)")]]).serialized
            }, now: now)
            context.webhooks.kick()
            return ["delivery": delivery.json]
        }
    )

    static let listDeliveries = MethodDefinition(
        name: "whatsapp_list_webhook_deliveries",
        title: "List webhook deliveries",
        description: "Deliveries newest first, of one webhook and/or one status (pending, delivered, failed): attempts, next try, the last answer or error.",
        inputSchema: Schema.object([
            ("webhook", Schema.string("only this webhook's", minLength: 1)),
            ("status", Schema.string("only these", enumeration: WebhookDelivery.Status.allCases.map(\.rawValue))),
            ("limit", Schema.integer("at most this many", minimum: 1, maximum: 1000, defaultValue: 100)),
        ], required: []),
        outputSchema: Schema.object([("deliveries", Schema.array(of: deliverySchema))], required: ["deliveries"]),
        annotations: .readOnlyLocal,
        handler: { context, arguments throws(WauseError) in
            var webhookID: String?
            if arguments["webhook"] != nil { webhookID = try existing(arguments, context).id }
            let status = try arguments["status"]?.stringValue.map { text throws(WauseError) -> WebhookDelivery.Status in
                guard let status = WebhookDelivery.Status(rawValue: text) else {
                    throw .invalidRequest("status must be pending, delivered or failed", details: ["status": .string(text)])
                }
                return status
            }
            let limit = Int(arguments["limit"]?.intValue ?? 100)
            return ["deliveries": .array(try context.store.webhookDeliveries(webhookID: webhookID, status: status, limit: limit).map(\.json))]
        }
    )
}
