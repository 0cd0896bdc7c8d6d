import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSQLite
import WauseSignal
import WauseSupport

// The store's SQL for the pairing area (ARCHITECTURE.md: one Store+Area file per area).

// MARK: DeviceIdentity

extension Store {
    /// The device identity, created and persisted (in one transaction) if this store has none.
    public func deviceIdentity(creatingWith random: (Int) -> [UInt8], now: UnixTime) throws(WauseError) -> DeviceIdentity {
        if let existing = try loadDeviceIdentity() { return existing }
        let identity = try DeviceIdentity.generate(random: random)
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("""
                    INSERT INTO device (id, registration_id, noise_private, noise_public, identity_private, identity_public,
                                        signed_prekey_id, adv_secret, created_at)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(Int64(identity.registrationID)), .blob(identity.noiseKey.privateKey), .blob(identity.noiseKey.publicKey),
                          .blob(identity.identityKey.privateKey), .blob(identity.identityKey.publicKey),
                          .integer(Int64(identity.signedPreKey.id)), .blob(identity.advSecret), .time(now)])
                try c.execute("INSERT INTO signed_prekeys (id, private_key, public_key, signature, created_at) VALUES (?, ?, ?, ?, ?)",
                              [.integer(Int64(identity.signedPreKey.id)), .blob(identity.signedPreKey.keyPair.privateKey),
                               .blob(identity.signedPreKey.keyPair.publicKey), .blob(identity.signedPreKey.signature), .time(now)])
            }
        }
        return identity
    }

    func loadDeviceIdentity() throws(WauseError) -> DeviceIdentity? {
        try database.withConnection { (c) throws(WauseError) -> DeviceIdentity? in
            guard let device = try c.query("SELECT * FROM device WHERE id = 1").first else { return nil }
            guard let preKeyID = device["signed_prekey_id"].integer,
                let preKey = try c.query("SELECT * FROM signed_prekeys WHERE id = ?", [.integer(preKeyID)]).first,
                let noisePrivate = device["noise_private"].blob, let identityPrivate = device["identity_private"].blob,
                let preKeyPrivate = preKey["private_key"].blob, let signature = preKey["signature"].blob,
                let advSecret = device["adv_secret"].blob, let registrationID = device["registration_id"].integer,
                let noise = try? Curve25519KeyPair(privateKey: noisePrivate),
                let identity = try? Curve25519KeyPair(privateKey: identityPrivate),
                let preKeyPair = try? Curve25519KeyPair(privateKey: preKeyPrivate)
            else {
                throw WauseError.internal("the store's device keys are incomplete or damaged")
            }
            return DeviceIdentity(noiseKey: noise, identityKey: identity,
                                  signedPreKey: .init(id: UInt32(preKeyID), keyPair: preKeyPair, signature: signature),
                                  registrationID: UInt32(registrationID), advSecret: advSecret)
        }
    }
}

// MARK: Logout

extension Store {
    /// Drops the link and every key and Signal session; puts a new device identity in place (one
    /// transaction). Chats, messages and contacts stay.
    func forgetLink(replacingKeysWith identity: DeviceIdentity, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                // Privacy tokens belong to the account that was linked (the next link may be another).
                for table in ["prekeys", "signed_prekeys", "identities", "sessions", "outbox", "privacy_tokens"] {
                    try c.execute("DELETE FROM \(table)")
                }
                try c.execute("""
                    UPDATE device SET registration_id = ?, noise_private = ?, noise_public = ?, identity_private = ?,
                           identity_public = ?, signed_prekey_id = ?, adv_secret = ?, jid = NULL, lid = NULL, platform = NULL,
                           business_name = NULL, account_signature_key = NULL, adv_signed_identity = NULL, paired_at = NULL,
                           server_url = NULL, server_root_key = NULL, nct_salt = NULL, logged_out_at = ? WHERE id = 1
                    """, [.integer(Int64(identity.registrationID)), .blob(identity.noiseKey.privateKey),
                          .blob(identity.noiseKey.publicKey), .blob(identity.identityKey.privateKey),
                          .blob(identity.identityKey.publicKey), .integer(Int64(identity.signedPreKey.id)),
                          .blob(identity.advSecret), .time(now)])
                try c.execute("INSERT INTO signed_prekeys (id, private_key, public_key, signature, created_at) VALUES (?, ?, ?, ?, ?)",
                              [.integer(Int64(identity.signedPreKey.id)), .blob(identity.signedPreKey.keyPair.privateKey),
                               .blob(identity.signedPreKey.keyPair.publicKey), .blob(identity.signedPreKey.signature), .time(now)])
            }
        }
    }

    /// `clear_data`: the message history and what it implies (chats, contacts, outbox, approvals,
    /// message events). The event log keeps its cursor sequence (AUTOINCREMENT).
    func clearHistory() throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for table in ["message_status_timeline", "messages", "chats", "contacts", "outbox", "idempotency_keys", "approvals"] {
                    try c.execute("DELETE FROM \(table)")
                }
                try c.execute("DELETE FROM events WHERE name LIKE 'message.%' OR name LIKE 'pairing.%'")
            }
        }
    }
}

// MARK: PairSuccess

extension Store {
    /// whatsmeow store/store.go Device: the link, the phone's account key trusted at the LID's device 0, and our own contact
    /// (phone and LID of one person) — in one transaction, so a crash leaves all or nothing.
    /// `server` is where the link was made: the device logs in there and nowhere else.
    func savePairing(_ link: PairSuccess.Link, advSecret: [UInt8], pushName: String? = nil,
                     server: (url: String, rootKey: [UInt8])? = nil, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("""
                    UPDATE device SET jid = ?, lid = ?, platform = ?, business_name = ?, account_signature_key = ?,
                           adv_signed_identity = ?, adv_secret = ?, push_name = ?, paired_at = ?, logged_out_at = NULL,
                           server_url = ?, server_root_key = ? WHERE id = 1
                    """, [.text(link.jid.description), SQLValue(link.lid?.description), SQLValue(link.platform),
                          SQLValue(link.businessName), .blob(link.accountSignatureKey), .blob(link.signedIdentity),
                          .blob(advSecret), SQLValue(pushName), .time(now), SQLValue(server?.url),
                          server.map { .blob($0.rootKey) } ?? .null])
                if let lid = link.lid {
                    try c.execute("""
                        INSERT INTO identities (address, identity_key, trusted_at) VALUES (?, ?, ?)
                        ON CONFLICT (address) DO UPDATE SET identity_key = excluded.identity_key, trusted_at = excluded.trusted_at
                        """, [.text(SignalAddress(user: lid.user, device: 0, server: "lid").description), .blob(link.accountSignatureKey),
                          .time(now)])
                }
                try c.execute("""
                    INSERT INTO contacts (phone, lid, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (phone) DO UPDATE SET lid = coalesce(excluded.lid, contacts.lid), updated_at = excluded.updated_at
                    """, [.text(link.jid.user), SQLValue(link.lid?.user), .time(now)])
            }
        }
    }
}

// MARK: Login

extension Store {
    /// The linked device logged in on `server`: the link belongs there from now on.
    func rememberServer(url: String, rootKey: [UInt8]) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE device SET server_url = ?, server_root_key = ? WHERE id = 1 AND jid IS NOT NULL",
                              [.text(url), .blob(rootKey)])
        }
    }

    /// The server told us our LID on login; keep it (and the phone↔LID mapping) if we had none.
    func learnOwnLID(_ lid: JID) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                guard let row = try c.query("SELECT jid, lid FROM device WHERE id = 1 AND jid IS NOT NULL").first,
                    let jidText = row["jid"].text, let jid = JID(jidText)
                else { return }
                if row["lid"].text == nil {
                    let own = JID(user: lid.user, device: jid.device, server: .lid)
                    try c.execute("UPDATE device SET lid = ? WHERE id = 1", [.text(own.description)])
                }
                try c.execute("""
                    INSERT INTO contacts (phone, lid, updated_at) VALUES (?, ?, strftime('%s','now') * 1000)
                    ON CONFLICT (phone) DO UPDATE SET lid = coalesce(contacts.lid, excluded.lid)
                    """, [.text(jid.user), .text(lid.user)])
            }
        }
    }
}
