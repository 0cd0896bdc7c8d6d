import WauseSQLite

/// The engine store's schema.
enum Migrations {
    static let store = SchemaMigrations(name: "store", steps: [version1, version2, version3, version4, version5, version6, version7, version8, version9, version10, version11, version12, version13, version14, version15, version16])

    /// Milestone 1: identity, Signal state, contacts, chats, messages (+FTS5), outbox,
    /// idempotency keys, approvals and the event log.
    static let version1 = """
    -- This device: one row (id = 1). Key material is stored as raw bytes; the file is 0600.
    CREATE TABLE device (
        id                   INTEGER PRIMARY KEY CHECK (id = 1),
        registration_id      INTEGER NOT NULL,
        noise_private        BLOB NOT NULL,
        noise_public         BLOB NOT NULL,
        identity_private     BLOB NOT NULL,
        identity_public      BLOB NOT NULL,
        signed_prekey_id     INTEGER NOT NULL,
        adv_secret           BLOB NOT NULL,
        jid                  TEXT,            -- user:device@s.whatsapp.net once linked
        lid                  TEXT,            -- user:device@lid once linked
        platform             TEXT,
        push_name            TEXT,
        business_name        TEXT,
        account_signature_key BLOB,           -- the phone's account identity key (ADV)
        adv_signed_identity  BLOB,            -- ADVSignedDeviceIdentity as received, for device-identity
        paired_at            INTEGER,
        logged_out_at        INTEGER,
        created_at           INTEGER NOT NULL
    );

    -- Signal: our prekeys (one-time and signed) and peers' identities and sessions.
    CREATE TABLE prekeys (
        id          INTEGER PRIMARY KEY,
        private_key BLOB NOT NULL,
        public_key  BLOB NOT NULL,
        uploaded    INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE signed_prekeys (
        id          INTEGER PRIMARY KEY,
        private_key BLOB NOT NULL,
        public_key  BLOB NOT NULL,
        signature   BLOB NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE identities (
        address      TEXT PRIMARY KEY,        -- signal address: user[:device]@server
        identity_key BLOB NOT NULL,
        trusted_at   INTEGER NOT NULL,
        changed_at   INTEGER
    );
    CREATE TABLE sessions (
        address    TEXT PRIMARY KEY,
        record     BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    );

    -- People. One row per person: the phone number and the LID of the same person meet here.
    CREATE TABLE contacts (
        id         INTEGER PRIMARY KEY,
        phone      TEXT UNIQUE,               -- digits only, e.g. 15551234567
        lid        TEXT UNIQUE,               -- user part of the @lid JID
        push_name  TEXT,
        full_name  TEXT,
        saved_name TEXT,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX contacts_names ON contacts (saved_name, full_name, push_name);

    CREATE TABLE chats (
        jid            TEXT PRIMARY KEY,
        contact_id     INTEGER REFERENCES contacts(id),
        name           TEXT,
        is_group       INTEGER NOT NULL DEFAULT 0,
        is_read_only   INTEGER NOT NULL DEFAULT 0,
        unread_count   INTEGER NOT NULL DEFAULT 0,
        last_message_at INTEGER,
        archived       INTEGER NOT NULL DEFAULT 0,
        pinned         INTEGER NOT NULL DEFAULT 0,
        muted_until    INTEGER,
        updated_at     INTEGER NOT NULL
    );
    CREATE INDEX chats_recent ON chats (last_message_at DESC);

    CREATE TABLE messages (
        rowid        INTEGER PRIMARY KEY,
        id           TEXT NOT NULL,
        chat_jid     TEXT NOT NULL REFERENCES chats(jid),
        sender_jid   TEXT,
        from_me      INTEGER NOT NULL,
        type         TEXT NOT NULL,
        body         TEXT NOT NULL DEFAULT '',
        quoted_id    TEXT,
        timestamp    INTEGER NOT NULL,        -- unix seconds
        has_media    INTEGER NOT NULL DEFAULT 0,
        status       TEXT,                    -- queued / sent / delivered / read / failed (ours)
        status_reason TEXT,
        raw          BLOB,                    -- the decrypted Message protobuf
        edited_at    INTEGER,
        deleted_at   INTEGER,
        received_at  INTEGER NOT NULL,
        UNIQUE (chat_jid, id, from_me)
    );
    CREATE INDEX messages_chat_time ON messages (chat_jid, timestamp, rowid);
    CREATE INDEX messages_id ON messages (id);

    CREATE TABLE message_status_timeline (
        message_rowid INTEGER NOT NULL REFERENCES messages(rowid) ON DELETE CASCADE,
        status        TEXT NOT NULL,
        device_jid    TEXT,
        at            INTEGER NOT NULL
    );
    CREATE INDEX message_status_timeline_message ON message_status_timeline (message_rowid);

    -- Full-text search over message bodies (external content: the text lives once, in messages).
    CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='rowid');
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body);
    END;

    -- Messages accepted for sending and not yet acknowledged by the server. Written before the
    -- message goes on the wire; a row leaves only when the server acks (or it fails for good).
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        message_id      TEXT NOT NULL UNIQUE,
        chat_jid        TEXT NOT NULL,
        payload         BLOB NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL
    );

    -- Same key, same result, for 24 hours (DESIGN.md "Methods").
    CREATE TABLE idempotency_keys (
        key        TEXT NOT NULL,
        method     TEXT NOT NULL,
        result     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (key, method)
    );

    CREATE TABLE approvals (
        id          TEXT PRIMARY KEY,
        chat_jid    TEXT NOT NULL,
        question    TEXT NOT NULL,
        message_id  TEXT,
        status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        answer      TEXT,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        resolved_at INTEGER
    );
    CREATE INDEX approvals_status ON approvals (status);

    -- The event log. AUTOINCREMENT: a cursor is never reused, even after old rows are pruned, so
    -- a consumer's cursor only ever moves forward.
    CREATE TABLE events (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        name   TEXT NOT NULL,
        ts     INTEGER NOT NULL,             -- unix milliseconds
        data   TEXT NOT NULL                 -- JSON object
    );
    """

    /// Messaging: cached device lists (usync), undecryptable messages (retry receipts sent, never
    /// dropped silently) and the identity-change flag on messages.
    static let version2 = """
    -- A user's devices as the server last listed them (whatsmeow user.go GetUserDevices), by user JID
    -- (phone or LID form). `devices` is a JSON array of device JIDs.
    CREATE TABLE device_lists (
        user_jid   TEXT PRIMARY KEY,
        lid        TEXT,
        devices    TEXT NOT NULL,
        fetched_at INTEGER NOT NULL
    );

    -- Messages we could not decrypt: the retry receipts we sent for them and why (whatsmeow retry.go sendRetryReceipt).
    CREATE TABLE decrypt_failures (
        message_id   TEXT NOT NULL,
        sender_jid   TEXT NOT NULL,
        retry_count  INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        first_at     INTEGER NOT NULL,
        last_at      INTEGER NOT NULL,
        resolved_at  INTEGER,
        PRIMARY KEY (message_id, sender_jid)
    );

    -- Retry receipts we answered for our own messages (whatsmeow retry.go handleRetryReceipt: at most a few per device).
    CREATE TABLE retries_answered (
        message_id TEXT NOT NULL,
        device_jid TEXT NOT NULL,
        count      INTEGER NOT NULL,
        PRIMARY KEY (message_id, device_jid)
    );

    ALTER TABLE messages ADD COLUMN identity_changed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN sender_device TEXT;
    """

    /// One unit for time: every instant in the store is Unix milliseconds (`UnixTime`). Message
    /// timestamps and the chats' last-message times held seconds until now.
    static let version3 = """
    UPDATE messages SET timestamp = timestamp * 1000;
    UPDATE chats SET last_message_at = last_message_at * 1000 WHERE last_message_at IS NOT NULL;
    """

    /// The server a link belongs to: a store linked to one server (wause-sim, say) must never dial
    /// another with its keys. NULL for links made before this version (they dial the configured
    /// server, as before, and keep the one they first log in on).
    static let version4 = """
    ALTER TABLE device ADD COLUMN server_url TEXT;
    ALTER TABLE device ADD COLUMN server_root_key BLOB;
    """

    /// Groups (issue 12): the groups we know with their settings and our standing in them, their
    /// participants, Signal sender keys (whatsmeow store sqlstore SenderKeyStore), and which
    /// devices already hold our sender key for a group (whatsmeow send.go sendGroup sends the SKDM
    /// only to devices lacking it; the table is cleared for a group when our key is replaced).
    static let version5 = """
    -- One row per group, keyed by its JID (`…@g.us`). Times are Unix milliseconds.
    CREATE TABLE groups (
        jid             TEXT PRIMARY KEY,
        name            TEXT NOT NULL DEFAULT '',
        topic           TEXT,
        topic_id        TEXT,                 -- the description's id (w:g2 description prev)
        owner           TEXT,                 -- the creator's JID as the server gives it
        created_at      INTEGER,
        addressing_mode TEXT NOT NULL DEFAULT 'pn',   -- pn or lid (whatsmeow types GroupInfo AddressingMode)
        announce        INTEGER NOT NULL DEFAULT 0,   -- only admins send
        locked          INTEGER NOT NULL DEFAULT 0,   -- only admins edit the info
        participant     INTEGER NOT NULL DEFAULT 1,   -- we are a member; 0 once we left or were removed
        invite_code     TEXT,
        updated_at      INTEGER NOT NULL
    );

    -- Members by their JID as the group addresses them (phone or LID form), with the other form when known.
    CREATE TABLE group_participants (
        group_jid TEXT NOT NULL REFERENCES groups(jid) ON DELETE CASCADE,
        jid       TEXT NOT NULL,
        phone     TEXT,                       -- digits only
        lid       TEXT,                       -- user part of the @lid JID
        admin     TEXT NOT NULL DEFAULT 'none' CHECK (admin IN ('none', 'admin', 'superadmin')),
        PRIMARY KEY (group_jid, jid)
    );

    -- Signal sender-key records (libsignal SenderKeyRecordStructure bytes) by group and sender device.
    CREATE TABLE sender_keys (
        group_id   TEXT NOT NULL,
        sender     TEXT NOT NULL,             -- SignalAddress description, e.g. 98765:0 or 98765_1:3
        record     BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, sender)
    );

    -- Devices that hold our current sender key for a group (they got our SKDM).
    CREATE TABLE sender_key_holders (
        group_jid  TEXT NOT NULL,
        device_jid TEXT NOT NULL,
        sent_at    INTEGER NOT NULL,
        PRIMARY KEY (group_jid, device_jid)
    );
    """

    /// Privacy tokens (issue 12; whatsmeow tctoken.go, store PrivacyTokens; cstoken.go NCTSalt):
    /// the tokens contacts issued us, keyed by the issuer's LID JID (`…@lid`, the phone JID while
    /// the LID is unknown), with their time, and when we last issued ours to each (once per 7-day
    /// bucket). The NCT salt for `<cstoken>` comes with history sync or app state; NULL until then.
    static let version6 = """
    CREATE TABLE privacy_tokens (
        jid         TEXT PRIMARY KEY,         -- the other user: user@lid, or user@s.whatsapp.net while its LID is unknown
        token       BLOB,                     -- the token they issued us; NULL when we only issued ours
        token_t     INTEGER,                  -- its timestamp (Unix milliseconds)
        issued_at   INTEGER,                  -- when we last issued our token to them (Unix milliseconds)
        updated_at  INTEGER NOT NULL
    );

    ALTER TABLE device ADD COLUMN nct_salt BLOB;
    """

    /// Media (issue 13): what a media message says about its file, by message row — for
    /// received messages what the download needs (keys, hashes, direct path), for ours what was
    /// uploaded — and where the file is on this machine once it is (`path`, under
    /// `<data_dir>/media/`).
    static let version7 = """
    CREATE TABLE media (
        message_rowid INTEGER PRIMARY KEY REFERENCES messages(rowid) ON DELETE CASCADE,
        type          TEXT NOT NULL,          -- image, video, audio, ptt, document, sticker, location, vcard
        mimetype      TEXT,
        size          INTEGER,                -- plaintext bytes (fileLength)
        sha256        BLOB,                   -- fileSha256
        enc_sha256    BLOB,                   -- fileEncSha256
        media_key     BLOB,
        direct_path   TEXT,
        url           TEXT,
        file_name     TEXT,
        caption       TEXT,
        width         INTEGER,
        height        INTEGER,
        seconds       INTEGER,
        path          TEXT                    -- the plaintext file here, once downloaded or sent
    );
    """

    /// Issue 14: what reactions, edits and revokes did to a message. `body` always holds the
    /// current text (so search finds what the message says now); `edit_history` the earlier
    /// texts; a revoked message keeps its row with `deleted = 1` and its text gone; `reactions`
    /// one entry per person (a new reaction replaces theirs, an empty one removes it). Poll votes
    /// (Messaging/Polls.swift).
    static let version8 = """
    ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    -- JSON [{"body", "at"}], oldest first: each text the message had before an edit.
    ALTER TABLE messages ADD COLUMN edit_history TEXT;
    -- JSON {"<reactor's user JID>": {"emoji", "at"}}.
    ALTER TABLE messages ADD COLUMN reactions TEXT;

    -- Each voter's current vote in a poll (the poll itself is a message of type 'poll'; its
    -- question, options and secret are in its raw message). A changed vote replaces the row.
    CREATE TABLE poll_votes (
        poll_rowid INTEGER NOT NULL REFERENCES messages(rowid) ON DELETE CASCADE,
        voter      TEXT NOT NULL,             -- user JID, phone form when known
        options    TEXT NOT NULL,             -- JSON array of the chosen option names
        message_id TEXT NOT NULL,             -- the vote's own message id
        at         INTEGER NOT NULL,
        PRIMARY KEY (poll_rowid, voter)
    );
    """

    /// Approval requests (issue 14): milestone 1's placeholder table was never written to, so it is
    /// replaced by the full record — who was asked (their contact, so a reply by phone number or
    /// LID matches), what, how it was answered, by whom and with which message. Times are Unix ms.
    static let version9 = """
    DROP TABLE approvals;
    CREATE TABLE approvals (
        id                 TEXT PRIMARY KEY,              -- 6 characters of A-Z2-9
        contact_id         INTEGER NOT NULL,              -- the person asked (contacts.id)
        to_phone           TEXT,                          -- their phone number and LID when the request went out,
        to_lid             TEXT,                          -- so a later contact merge cannot lose them
        chat_jid           TEXT NOT NULL,
        action             TEXT NOT NULL,
        details            TEXT NOT NULL DEFAULT '',
        style              TEXT NOT NULL DEFAULT 'text' CHECK (style IN ('text', 'poll')),
        status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
        created_at         INTEGER NOT NULL,
        expires_at         INTEGER NOT NULL,
        resolved_at        INTEGER,
        resolved_by        TEXT,                          -- the JID whose reply decided
        reply_message_id   TEXT,                          -- the message (or reaction) that decided
        request_message_id TEXT NOT NULL                  -- our message asking
    );
    CREATE INDEX approvals_status ON approvals (status, expires_at);
    CREATE INDEX approvals_request_message ON approvals (request_message_id);
    """

    /// A video shown as a GIF (issue 13: VideoMessage.gifPlayback), received or sent.
    static let version10 = """
    ALTER TABLE media ADD COLUMN gif_playback INTEGER NOT NULL DEFAULT 0;
    """

    /// Contacts and presence (issue 14): the name set with whatsapp_set_contact_name (it wins over every
    /// other name), and what usync last answered about the person (Contacts/UserLookup.swift).
    static let version11 = """
    ALTER TABLE contacts ADD COLUMN local_name TEXT;
    ALTER TABLE contacts ADD COLUMN about TEXT;
    ALTER TABLE contacts ADD COLUMN business INTEGER;
    ALTER TABLE contacts ADD COLUMN picture_id TEXT;
    ALTER TABLE contacts ADD COLUMN on_whatsapp INTEGER;
    ALTER TABLE contacts ADD COLUMN info_at INTEGER;          -- when usync last answered for them (Unix ms)
    CREATE INDEX contacts_local_name ON contacts (local_name);
    """

    /// History sync (issue 15): each `HistorySyncNotification` from our phone is kept here before it
    /// is acknowledged, and deleted in the transaction that files its chunk, so a restart (even a
    /// kill -9) resumes the chunks not yet filed and files none twice.
    static let version12 = """
    CREATE TABLE history_sync_pending (
        message_id   TEXT PRIMARY KEY,            -- the notification's message id
        notification BLOB NOT NULL,               -- the HistorySyncNotification protobuf
        attempts     INTEGER NOT NULL DEFAULT 0,
        received_at  INTEGER NOT NULL
    );
    """

    /// App state (syncd, AppState/AppStateSync.swift): the phone's sync keys, each collection's
    /// version and LTHash, and each live record's index MAC → value MAC (whatsmeow
    /// store/sqlstore app_state_sync_keys, app_state_version, app_state_mutation_macs); starred
    /// messages and chats marked unread.
    static let version13 = """
    CREATE TABLE app_state_keys (
        key_id      BLOB PRIMARY KEY,
        key_data    BLOB NOT NULL,
        fingerprint BLOB,
        timestamp   INTEGER NOT NULL,          -- the phone's, unix ms: the newest key is the one we send with
        received_at INTEGER NOT NULL
    );
    CREATE TABLE app_state_collections (
        name       TEXT PRIMARY KEY,
        version    INTEGER NOT NULL,
        hash       BLOB NOT NULL,              -- 128-byte LTHash
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE app_state_macs (
        collection TEXT NOT NULL,
        index_mac  BLOB NOT NULL,
        value_mac  BLOB NOT NULL,
        PRIMARY KEY (collection, index_mac)
    );
    ALTER TABLE messages ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE chats ADD COLUMN marked_unread INTEGER NOT NULL DEFAULT 0;
    """

    /// Signed webhooks (issue 16, Webhooks/): each webhook with the event-log cursor it has been
    /// filled up to, and the durable queue of deliveries the worker fills from the log (one row per
    /// webhook and event, so a restart neither loses nor repeats one) and drains with retries.
    static let version14 = """
    CREATE TABLE webhooks (
        id         TEXT PRIMARY KEY,            -- wh_ + 12 hex
        url        TEXT NOT NULL,
        events     TEXT NOT NULL,               -- JSON array of names or prefixes; [] = every event
        secret     TEXT NOT NULL,               -- never logged, never listed
        enabled    INTEGER NOT NULL DEFAULT 1,
        source     TEXT NOT NULL,               -- method or config
        cursor     INTEGER NOT NULL,            -- the last event cursor queued for it
        created_at INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id              INTEGER PRIMARY KEY,
        webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event_cursor    INTEGER,                -- null for webhook.test
        event_name      TEXT NOT NULL,
        delivery_key    TEXT NOT NULL,          -- the Wause-Webhook-Id header: <account>:<cursor>
        body            TEXT NOT NULL,          -- the JSON posted, fixed when queued
        status          TEXT NOT NULL,          -- pending, delivered or failed
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_http_status INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        finished_at     INTEGER,
        UNIQUE (webhook_id, event_cursor)
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
    """

    /// Scheduled sends (issue 16): an outbox row with `send_at` waits for that instant and does not
    /// hold up the rest of its chat until then; a timeline step records how late a scheduled send
    /// went out (`late_ms`, from `send_at`: more than a moment when the engine was down then).
    /// Bulk jobs: the job under its idempotency key (with the arguments and the result it
    /// answered), and each item's message or the error that refused it.
    static let version15 = """
    ALTER TABLE outbox ADD COLUMN send_at INTEGER;
    CREATE INDEX outbox_send_at ON outbox (send_at) WHERE send_at IS NOT NULL;
    ALTER TABLE message_status_timeline ADD COLUMN late_ms INTEGER;
    CREATE TABLE bulk_jobs (
        id                TEXT PRIMARY KEY,
        idempotency_key   TEXT NOT NULL UNIQUE,
        request           TEXT NOT NULL,
        result            TEXT NOT NULL,
        pacing_per_minute INTEGER NOT NULL,
        created_at        INTEGER NOT NULL,
        cancelled_at      INTEGER
    );
    CREATE TABLE bulk_items (
        job_id        TEXT NOT NULL REFERENCES bulk_jobs(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        recipient     TEXT NOT NULL,
        message_id    TEXT,
        error_code    TEXT,
        error_message TEXT,
        PRIMARY KEY (job_id, position)
    );
    """

    /// Labels from app state's `regular` collection (issue 15; whatsmeow appstate.go
    /// dispatchAppState `label_edit`, `label_jid`, `label_message`): each label by the phone's ID
    /// as its last `LabelEditAction` left it (a deleted one is kept, flagged, so a late association
    /// cannot bring it back under its old name), and which chats and messages carry it. An
    /// association may name a label whose edit has not arrived yet: it shows once the label does.
    static let version16 = """
    CREATE TABLE labels (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        color         INTEGER,
        predefined_id INTEGER,
        deleted       INTEGER NOT NULL DEFAULT 0,
        updated_at    INTEGER NOT NULL
    );
    CREATE TABLE chat_labels (
        label_id TEXT NOT NULL,
        chat_jid TEXT NOT NULL,
        PRIMARY KEY (chat_jid, label_id)
    );
    CREATE TABLE message_labels (
        label_id   TEXT NOT NULL,
        chat_jid   TEXT NOT NULL,
        message_id TEXT NOT NULL,
        from_me    INTEGER NOT NULL,
        PRIMARY KEY (chat_jid, message_id, from_me, label_id)
    );
    """
}
