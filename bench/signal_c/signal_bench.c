/*
 * signal_bench: Debian's libsignal-protocol-c (2.3.3) measured on the same six Signal workloads
 * as wause-bench's SignalBenchmark, for `make bench`. The library needs a crypto provider and
 * stores from its user: here OpenSSL 3 (EVP, with the HMAC and digest implementations fetched
 * once) and in-memory stores holding the serialized records the library hands them, as its API
 * requires.
 *
 *   signal_bench [--seconds S] [--size BYTES]
 *
 * Prints one line per workload, "<name> <operations per CPU-second>" (median of 5 rounds, thread
 * CPU time, as wause-bench measures): encrypt, decrypt, pingpong (messages, each a DH ratchet
 * step), setup (process bundle + first pkmsg encrypted and decrypted), skencrypt and skdecrypt
 * (group sender-key messages: each encrypt signs, each decrypt verifies; decrypted in order from
 * serialized bytes encrypted outside the timing).
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <signal_protocol.h>
#include <key_helper.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <protocol.h>
#include <curve.h>
#include <ratchet.h>
#include <group_cipher.h>
#include <group_session_builder.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(expression) do { int status_ = (expression); if (status_ < 0) { \
    fprintf(stderr, "signal_bench: %s failed (%d) at line %d\n", #expression, status_, __LINE__); exit(1); } } while (0)

/* ---- crypto provider on OpenSSL ------------------------------------------------------------ */

static EVP_MAC *hmac_algorithm;
static EVP_MD *sha512_algorithm;

static int random_bytes(uint8_t *data, size_t len, void *user_data) {
    (void)user_data;
    return RAND_bytes(data, (int)len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int hmac_init(void **context, const uint8_t *key, size_t key_len, void *user_data) {
    (void)user_data;
    EVP_MAC_CTX *mac = EVP_MAC_CTX_new(hmac_algorithm);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end() };
    if (!mac || EVP_MAC_init(mac, key, key_len, params) != 1) { EVP_MAC_CTX_free(mac); return SG_ERR_UNKNOWN; }
    *context = mac;
    return 0;
}

static int hmac_update(void *context, const uint8_t *data, size_t len, void *user_data) {
    (void)user_data;
    return EVP_MAC_update(context, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int hmac_final(void *context, signal_buffer **output, void *user_data) {
    (void)user_data;
    uint8_t mac[32];
    size_t length = 0;
    if (EVP_MAC_final(context, mac, &length, sizeof mac) != 1) return SG_ERR_UNKNOWN;
    *output = signal_buffer_create(mac, length);
    return *output ? 0 : SG_ERR_NOMEM;
}

static void hmac_cleanup(void *context, void *user_data) {
    (void)user_data;
    EVP_MAC_CTX_free(context);
}

static int sha512_init(void **context, void *user_data) {
    (void)user_data;
    EVP_MD_CTX *digest = EVP_MD_CTX_new();
    if (!digest || EVP_DigestInit_ex(digest, sha512_algorithm, NULL) != 1) { EVP_MD_CTX_free(digest); return SG_ERR_UNKNOWN; }
    *context = digest;
    return 0;
}

static int sha512_update(void *context, const uint8_t *data, size_t len, void *user_data) {
    (void)user_data;
    return EVP_DigestUpdate(context, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int sha512_final(void *context, signal_buffer **output, void *user_data) {
    (void)user_data;
    uint8_t digest[64];
    unsigned int length = 0;
    /* The library reuses the context after final: re-initialise it, as the API asks. */
    if (EVP_DigestFinal_ex(context, digest, &length) != 1 || EVP_DigestInit_ex(context, sha512_algorithm, NULL) != 1) return SG_ERR_UNKNOWN;
    *output = signal_buffer_create(digest, length);
    return *output ? 0 : SG_ERR_NOMEM;
}

static void sha512_cleanup(void *context, void *user_data) {
    (void)user_data;
    EVP_MD_CTX_free(context);
}

static int aes(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
               const uint8_t *input, size_t input_len, int encrypt) {
    if (key_len != 32 || iv_len != 16) return SG_ERR_INVAL;
    const EVP_CIPHER *algorithm = cipher == SG_CIPHER_AES_CBC_PKCS5 ? EVP_aes_256_cbc() : EVP_aes_256_ctr();
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    uint8_t *out = malloc(input_len + 32);
    int length = 0, final_length = 0, ok = context && out
        && EVP_CipherInit_ex(context, algorithm, NULL, key, iv, encrypt) == 1
        && EVP_CIPHER_CTX_set_padding(context, cipher == SG_CIPHER_AES_CBC_PKCS5) == 1
        && EVP_CipherUpdate(context, out, &length, input, (int)input_len) == 1
        && EVP_CipherFinal_ex(context, out + length, &final_length) == 1;
    if (ok) *output = signal_buffer_create(out, (size_t)(length + final_length));
    EVP_CIPHER_CTX_free(context);
    free(out);
    return ok ? 0 : SG_ERR_UNKNOWN;
}

static int aes_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                       const uint8_t *plaintext, size_t plaintext_len, void *user_data) {
    (void)user_data;
    return aes(output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len, 1);
}

static int aes_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                       const uint8_t *ciphertext, size_t ciphertext_len, void *user_data) {
    (void)user_data;
    return aes(output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len, 0);
}

/* ---- in-memory stores ------------------------------------------------------------------------ */

#define MAX_SESSIONS 4
#define MAX_PREKEYS 65536

typedef struct {
    char name[32];
    int32_t device_id;
    signal_buffer *record;    /* the serialized session record */
    signal_buffer *identity;  /* the peer's serialized identity key */
} peer_entry;

typedef struct {
    signal_context *context;
    signal_protocol_store_context *stores;
    ratchet_identity_key_pair *identity;
    uint32_t registration_id;
    peer_entry peers[MAX_SESSIONS];
    signal_buffer *prekeys[MAX_PREKEYS];  /* by id */
    signal_buffer *signed_prekey;         /* id 1 */
    session_signed_pre_key *signed_prekey_record;
    uint32_t next_prekey_id;
    /* The one sender-key record each party holds in the benchmark (Alice's own key, Bob's copy
     * of it), serialized as the library hands it over. */
    signal_buffer *sender_key;
} party;

static peer_entry *peer(party *self, const signal_protocol_address *address, int create) {
    for (int i = 0; i < MAX_SESSIONS; i++) {
        peer_entry *entry = &self->peers[i];
        if (entry->name[0] && entry->device_id == address->device_id && strlen(entry->name) == address->name_len
            && memcmp(entry->name, address->name, address->name_len) == 0) return entry;
    }
    if (!create) return NULL;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        peer_entry *entry = &self->peers[i];
        if (!entry->name[0] && address->name_len < sizeof entry->name) {
            memcpy(entry->name, address->name, address->name_len);
            entry->name[address->name_len] = 0;
            entry->device_id = address->device_id;
            return entry;
        }
    }
    return NULL;
}

static int load_session(signal_buffer **record, signal_buffer **user_record, const signal_protocol_address *address, void *user_data) {
    (void)user_record;
    peer_entry *entry = peer(user_data, address, 0);
    if (!entry || !entry->record) return 0;
    *record = signal_buffer_copy(entry->record);
    return 1;
}

static int sub_device_sessions(signal_int_list **sessions, const char *name, size_t name_len, void *user_data) {
    (void)sessions; (void)name; (void)name_len; (void)user_data;
    return 0;
}

static int store_session(const signal_protocol_address *address, uint8_t *record, size_t record_len,
                         uint8_t *user_record, size_t user_record_len, void *user_data) {
    (void)user_record; (void)user_record_len;
    peer_entry *entry = peer(user_data, address, 1);
    if (!entry) return SG_ERR_NOMEM;
    signal_buffer_free(entry->record);
    entry->record = signal_buffer_create(record, record_len);
    return 0;
}

static int contains_session(const signal_protocol_address *address, void *user_data) {
    peer_entry *entry = peer(user_data, address, 0);
    return entry && entry->record;
}

static int delete_session(const signal_protocol_address *address, void *user_data) {
    peer_entry *entry = peer(user_data, address, 0);
    if (!entry || !entry->record) return 0;
    signal_buffer_free(entry->record);
    entry->record = NULL;
    return 1;
}

static int delete_all_sessions(const char *name, size_t name_len, void *user_data) {
    (void)name; (void)name_len; (void)user_data;
    return 0;
}

static int load_prekey(signal_buffer **record, uint32_t id, void *user_data) {
    party *self = user_data;
    if (id >= MAX_PREKEYS || !self->prekeys[id]) return SG_ERR_INVALID_KEY_ID;
    *record = signal_buffer_copy(self->prekeys[id]);
    return SG_SUCCESS;
}

static int store_prekey(uint32_t id, uint8_t *record, size_t record_len, void *user_data) {
    party *self = user_data;
    if (id >= MAX_PREKEYS) return SG_ERR_INVAL;
    signal_buffer_free(self->prekeys[id]);
    self->prekeys[id] = signal_buffer_create(record, record_len);
    return 0;
}

static int contains_prekey(uint32_t id, void *user_data) {
    party *self = user_data;
    return id < MAX_PREKEYS && self->prekeys[id];
}

static int remove_prekey(uint32_t id, void *user_data) {
    party *self = user_data;
    if (id >= MAX_PREKEYS || !self->prekeys[id]) return 0;
    signal_buffer_free(self->prekeys[id]);
    self->prekeys[id] = NULL;
    return 0;
}

static int load_signed_prekey(signal_buffer **record, uint32_t id, void *user_data) {
    party *self = user_data;
    if (id != 1 || !self->signed_prekey) return SG_ERR_INVALID_KEY_ID;
    *record = signal_buffer_copy(self->signed_prekey);
    return SG_SUCCESS;
}

static int store_signed_prekey(uint32_t id, uint8_t *record, size_t record_len, void *user_data) {
    party *self = user_data;
    if (id != 1) return SG_ERR_INVAL;
    signal_buffer_free(self->signed_prekey);
    self->signed_prekey = signal_buffer_create(record, record_len);
    return 0;
}

static int contains_signed_prekey(uint32_t id, void *user_data) {
    return id == 1 && ((party *)user_data)->signed_prekey;
}

static int remove_signed_prekey(uint32_t id, void *user_data) {
    (void)id; (void)user_data;
    return 0;
}

static int identity_key_pair(signal_buffer **public_data, signal_buffer **private_data, void *user_data) {
    party *self = user_data;
    CHECK(ec_public_key_serialize(public_data, ratchet_identity_key_pair_get_public(self->identity)));
    CHECK(ec_private_key_serialize(private_data, ratchet_identity_key_pair_get_private(self->identity)));
    return 0;
}

static int local_registration_id(void *user_data, uint32_t *registration_id) {
    *registration_id = ((party *)user_data)->registration_id;
    return 0;
}

static int save_identity(const signal_protocol_address *address, uint8_t *key, size_t key_len, void *user_data) {
    peer_entry *entry = peer(user_data, address, 1);
    if (!entry) return SG_ERR_NOMEM;
    signal_buffer_free(entry->identity);
    entry->identity = key ? signal_buffer_create(key, key_len) : NULL;
    return 0;
}

/* Trust on first use, then the same key only (libsignal's default). */
static int trusted_identity(const signal_protocol_address *address, uint8_t *key, size_t key_len, void *user_data) {
    peer_entry *entry = peer(user_data, address, 0);
    if (!entry || !entry->identity) return 1;
    return signal_buffer_len(entry->identity) == key_len && memcmp(signal_buffer_data(entry->identity), key, key_len) == 0;
}

static int store_sender_key(const signal_protocol_sender_key_name *name, uint8_t *record, size_t record_len,
                            uint8_t *user_record, size_t user_record_len, void *user_data) {
    (void)name; (void)user_record; (void)user_record_len;
    party *self = user_data;
    signal_buffer_free(self->sender_key);
    self->sender_key = signal_buffer_create(record, record_len);
    return self->sender_key ? 0 : SG_ERR_NOMEM;
}

static int load_sender_key(signal_buffer **record, signal_buffer **user_record, const signal_protocol_sender_key_name *name, void *user_data) {
    (void)name; (void)user_record;
    party *self = user_data;
    if (!self->sender_key) return 0;
    *record = signal_buffer_copy(self->sender_key);
    return 1;
}

static void party_init(party *self, signal_context *context) {
    memset(self, 0, sizeof *self);
    self->context = context;
    self->next_prekey_id = 1;
    CHECK(signal_protocol_key_helper_generate_identity_key_pair(&self->identity, context));
    CHECK(signal_protocol_key_helper_generate_registration_id(&self->registration_id, 0, context));
    CHECK(signal_protocol_store_context_create(&self->stores, context));
    signal_protocol_session_store sessions = { load_session, sub_device_sessions, store_session, contains_session,
                                               delete_session, delete_all_sessions, NULL, self };
    signal_protocol_pre_key_store prekeys = { load_prekey, store_prekey, contains_prekey, remove_prekey, NULL, self };
    signal_protocol_signed_pre_key_store signed_prekeys = { load_signed_prekey, store_signed_prekey, contains_signed_prekey,
                                                            remove_signed_prekey, NULL, self };
    signal_protocol_identity_key_store identities = { identity_key_pair, local_registration_id, save_identity, trusted_identity, NULL, self };
    CHECK(signal_protocol_store_context_set_session_store(self->stores, &sessions));
    CHECK(signal_protocol_store_context_set_pre_key_store(self->stores, &prekeys));
    CHECK(signal_protocol_store_context_set_signed_pre_key_store(self->stores, &signed_prekeys));
    CHECK(signal_protocol_store_context_set_identity_key_store(self->stores, &identities));
    signal_protocol_sender_key_store sender_keys = { store_sender_key, load_sender_key, NULL, self };
    CHECK(signal_protocol_store_context_set_sender_key_store(self->stores, &sender_keys));
    CHECK(signal_protocol_key_helper_generate_signed_pre_key(&self->signed_prekey_record, self->identity, 1, 0, context));
    CHECK(signal_protocol_signed_pre_key_store_key(self->stores, self->signed_prekey_record));
}

/* Generates and stores `count` one-time prekeys (outside any timed region). */
static void add_prekeys(party *self, unsigned count) {
    signal_protocol_key_helper_pre_key_list_node *head = NULL;
    if (self->next_prekey_id + count >= MAX_PREKEYS) self->next_prekey_id = 1;
    CHECK(signal_protocol_key_helper_generate_pre_keys(&head, self->next_prekey_id, count, self->context));
    for (signal_protocol_key_helper_pre_key_list_node *node = head; node; node = signal_protocol_key_helper_key_list_next(node)) {
        CHECK(signal_protocol_pre_key_store_key(self->stores, signal_protocol_key_helper_key_list_element(node)));
    }
    signal_protocol_key_helper_key_list_free(head);
}

/* The bundle for prekey `id`. */
static session_pre_key_bundle *bundle(party *self, uint32_t prekey_id) {
    session_pre_key *prekey = NULL;
    CHECK(signal_protocol_pre_key_load_key(self->stores, &prekey, prekey_id));
    session_pre_key_bundle *result = NULL;
    CHECK(session_pre_key_bundle_create(&result, self->registration_id, 1, prekey_id,
        ec_key_pair_get_public(session_pre_key_get_key_pair(prekey)), 1,
        ec_key_pair_get_public(session_signed_pre_key_get_key_pair(self->signed_prekey_record)),
        session_signed_pre_key_get_signature(self->signed_prekey_record),
        session_signed_pre_key_get_signature_len(self->signed_prekey_record),
        ratchet_identity_key_pair_get_public(self->identity)));
    SIGNAL_UNREF(prekey);
    return result;
}

static const signal_protocol_address alice_address = { "alice", 5, 1 }, bob_address = { "bob", 3, 1 };

static signal_buffer *encrypt(party *from, const signal_protocol_address *to, const uint8_t *plaintext, size_t length, int *type) {
    session_cipher *cipher = NULL;
    ciphertext_message *message = NULL;
    CHECK(session_cipher_create(&cipher, from->stores, to, from->context));
    CHECK(session_cipher_encrypt(cipher, plaintext, length, &message));
    *type = ciphertext_message_get_type(message);
    signal_buffer *serialized = signal_buffer_copy(ciphertext_message_get_serialized(message));
    SIGNAL_UNREF(message);
    session_cipher_free(cipher);
    return serialized;
}

/* Decrypts serialized bytes, as a receiver does; returns the plaintext length. */
static size_t decrypt(party *to, const signal_protocol_address *from, signal_buffer *serialized, int type) {
    session_cipher *cipher = NULL;
    signal_buffer *plaintext = NULL;
    CHECK(session_cipher_create(&cipher, to->stores, from, to->context));
    if (type == CIPHERTEXT_PREKEY_TYPE) {
        pre_key_signal_message *message = NULL;
        CHECK(pre_key_signal_message_deserialize(&message, signal_buffer_data(serialized), signal_buffer_len(serialized), to->context));
        CHECK(session_cipher_decrypt_pre_key_signal_message(cipher, message, NULL, &plaintext));
        SIGNAL_UNREF(message);
    } else {
        signal_message *message = NULL;
        CHECK(signal_message_deserialize(&message, signal_buffer_data(serialized), signal_buffer_len(serialized), to->context));
        CHECK(session_cipher_decrypt_signal_message(cipher, message, NULL, &plaintext));
        SIGNAL_UNREF(message);
    }
    size_t length = signal_buffer_len(plaintext);
    signal_buffer_free(plaintext);
    session_cipher_free(cipher);
    return length;
}

/* Alice processes Bob's bundle (prekey `prekey_id`), sends a pkmsg, Bob decrypts it. */
static void setup(party *alice, party *bob, uint32_t prekey_id, const uint8_t *plaintext, size_t length) {
    session_builder *builder = NULL;
    session_pre_key_bundle *bob_bundle = bundle(bob, prekey_id);
    CHECK(session_builder_create(&builder, alice->stores, &bob_address, alice->context));
    CHECK(session_builder_process_pre_key_bundle(builder, bob_bundle));
    session_builder_free(builder);
    SIGNAL_UNREF(bob_bundle);
    int type = 0;
    signal_buffer *pkmsg = encrypt(alice, &bob_address, plaintext, length, &type);
    if (type != CIPHERTEXT_PREKEY_TYPE || decrypt(bob, &alice_address, pkmsg, type) != length) {
        fprintf(stderr, "signal_bench: setup round trip failed\n");
        exit(1);
    }
    signal_buffer_free(pkmsg);
}

static const signal_protocol_sender_key_name group_sender = { "120363000000000001@g.us", 23, { "alice", 5, 1 } };

static signal_buffer *group_encrypt(party *from, const uint8_t *plaintext, size_t length) {
    group_cipher *cipher = NULL;
    ciphertext_message *message = NULL;
    CHECK(group_cipher_create(&cipher, from->stores, &group_sender, from->context));
    CHECK(group_cipher_encrypt(cipher, plaintext, length, &message));
    signal_buffer *serialized = signal_buffer_copy(ciphertext_message_get_serialized(message));
    SIGNAL_UNREF(message);
    group_cipher_free(cipher);
    return serialized;
}

static size_t group_decrypt(party *to, signal_buffer *serialized) {
    group_cipher *cipher = NULL;
    sender_key_message *message = NULL;
    signal_buffer *plaintext = NULL;
    CHECK(group_cipher_create(&cipher, to->stores, &group_sender, to->context));
    CHECK(sender_key_message_deserialize(&message, signal_buffer_data(serialized), signal_buffer_len(serialized), to->context));
    CHECK(group_cipher_decrypt(cipher, message, NULL, &plaintext));
    size_t length = signal_buffer_len(plaintext);
    signal_buffer_free(plaintext);
    SIGNAL_UNREF(message);
    group_cipher_free(cipher);
    return length;
}

/* A new sender key for Alice (as after a member left), distributed to Bob, so Bob is never more
 * than the library's forward-jump limit (2000) behind whatever the encrypt workload did. */
static void distribute(party *alice, party *bob, const uint8_t *plaintext, size_t length) {
    signal_buffer_free(alice->sender_key);
    alice->sender_key = NULL;
    group_session_builder *builder = NULL;
    sender_key_distribution_message *skdm = NULL, *received = NULL;
    CHECK(group_session_builder_create(&builder, alice->stores, alice->context));
    CHECK(group_session_builder_create_session(builder, &skdm, &group_sender));
    group_session_builder_free(builder);
    signal_buffer *bytes = ciphertext_message_get_serialized((ciphertext_message *)skdm);
    CHECK(sender_key_distribution_message_deserialize(&received, signal_buffer_data(bytes), signal_buffer_len(bytes), bob->context));
    CHECK(group_session_builder_create(&builder, bob->stores, bob->context));
    CHECK(group_session_builder_process_session(builder, &group_sender, received));
    group_session_builder_free(builder);
    SIGNAL_UNREF(skdm);
    SIGNAL_UNREF(received);
    signal_buffer *message = group_encrypt(alice, plaintext, length);
    if (group_decrypt(bob, message) != length) {
        fprintf(stderr, "signal_bench: skmsg round trip failed\n");
        exit(1);
    }
    signal_buffer_free(message);
}

/* ---- measuring ------------------------------------------------------------------------------- */

static double cpu_now(void) {
    struct timespec time;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define ROUNDS 5
#define BATCH 200

int main(int argc, char **argv) {
    double seconds = 2.0;
    size_t size = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) size = (size_t)atol(argv[++i]);
        else { fprintf(stderr, "usage: signal_bench [--seconds S] [--size BYTES]\n"); return 2; }
    }
    hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha512_algorithm = EVP_MD_fetch(NULL, "SHA512", NULL);
    if (!hmac_algorithm || !sha512_algorithm) { fprintf(stderr, "signal_bench: OpenSSL lacks HMAC or SHA-512\n"); return 1; }

    signal_context *context = NULL;
    CHECK(signal_context_create(&context, NULL));
    signal_crypto_provider provider = { random_bytes, hmac_init, hmac_update, hmac_final, hmac_cleanup,
                                        sha512_init, sha512_update, sha512_final, sha512_cleanup, aes_encrypt, aes_decrypt, NULL };
    CHECK(signal_context_set_crypto_provider(context, &provider));

    static party alice, bob;
    party_init(&alice, context);
    party_init(&bob, context);
    uint8_t *plaintext = malloc(size);
    RAND_bytes(plaintext, (int)size);

    /* An established session: one message each way, so both send plain msg from here on. */
    add_prekeys(&bob, 1);
    setup(&alice, &bob, 1, plaintext, size);
    int type = 0;
    signal_buffer *reply = encrypt(&bob, &alice_address, plaintext, size, &type);
    decrypt(&alice, &bob_address, reply, type);
    signal_buffer_free(reply);

    const double round_seconds = seconds / ROUNDS;
    double results[ROUNDS];
    signal_buffer *batch[BATCH];

    /* encrypt: Alice on one sending chain. */
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        long operations = 0;
        while (spent < round_seconds) {
            double start = cpu_now();
            for (int i = 0; i < BATCH; i++) signal_buffer_free(encrypt(&alice, &bob_address, plaintext, size, &type));
            spent += cpu_now() - start;
            operations += BATCH;
        }
        results[round] = operations / spent;
        /* A new session, so Bob's receiving chain is not left more messages behind than the
         * library's forward-jump limit (2000) for the decrypt workload. */
        signal_protocol_session_delete_session(alice.stores, &bob_address);
        signal_protocol_session_delete_session(bob.stores, &alice_address);
        add_prekeys(&bob, 1);
        setup(&alice, &bob, bob.next_prekey_id, plaintext, size);
        bob.next_prekey_id++;
        reply = encrypt(&bob, &alice_address, plaintext, size, &type);
        decrypt(&alice, &bob_address, reply, type);
        signal_buffer_free(reply);
    }
    qsort(results, ROUNDS, sizeof *results, compare_doubles);
    printf("encrypt %.1f\n", results[ROUNDS / 2]);

    /* decrypt: Bob on one receiving chain, messages pre-encrypted outside the timing. */
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        long operations = 0;
        while (spent < round_seconds) {
            for (int i = 0; i < BATCH; i++) batch[i] = encrypt(&alice, &bob_address, plaintext, size, &type);
            double start = cpu_now();
            for (int i = 0; i < BATCH; i++) decrypt(&bob, &alice_address, batch[i], CIPHERTEXT_SIGNAL_TYPE);
            spent += cpu_now() - start;
            operations += BATCH;
            for (int i = 0; i < BATCH; i++) signal_buffer_free(batch[i]);
        }
        results[round] = operations / spent;
    }
    qsort(results, ROUNDS, sizeof *results, compare_doubles);
    printf("decrypt %.1f\n", results[ROUNDS / 2]);

    /* pingpong: strict alternation, a DH ratchet step on every message (encrypt + decrypt). */
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        long operations = 0;
        while (spent < round_seconds) {
            double start = cpu_now();
            for (int i = 0; i < BATCH / 2; i++) {
                signal_buffer *message = encrypt(&alice, &bob_address, plaintext, size, &type);
                decrypt(&bob, &alice_address, message, type);
                signal_buffer_free(message);
                message = encrypt(&bob, &alice_address, plaintext, size, &type);
                decrypt(&alice, &bob_address, message, type);
                signal_buffer_free(message);
            }
            spent += cpu_now() - start;
            operations += BATCH;
        }
        results[round] = operations / spent;
    }
    qsort(results, ROUNDS, sizeof *results, compare_doubles);
    printf("pingpong %.1f\n", results[ROUNDS / 2]);

    /* setup: bundle processed (signature verified), pkmsg encrypted and decrypted; sessions
     * deleted between setups so records do not accumulate archived states. */
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        long operations = 0;
        while (spent < round_seconds) {
            uint32_t first = bob.next_prekey_id;
            add_prekeys(&bob, BATCH / 10);
            bob.next_prekey_id += BATCH / 10;
            double start = cpu_now();
            for (unsigned i = 0; i < BATCH / 10; i++) {
                signal_protocol_session_delete_session(alice.stores, &bob_address);
                signal_protocol_session_delete_session(bob.stores, &alice_address);
                setup(&alice, &bob, first + i, plaintext, size);
            }
            spent += cpu_now() - start;
            operations += BATCH / 10;
        }
        results[round] = operations / spent;
    }
    qsort(results, ROUNDS, sizeof *results, compare_doubles);
    printf("setup %.1f\n", results[ROUNDS / 2]);

    /* skencrypt: Alice's sender key, each message signed. */
    distribute(&alice, &bob, plaintext, size);
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        long operations = 0;
        while (spent < round_seconds) {
            double start = cpu_now();
            for (int i = 0; i < BATCH; i++) signal_buffer_free(group_encrypt(&alice, plaintext, size));
            spent += cpu_now() - start;
            operations += BATCH;
        }
        results[round] = operations / spent;
        distribute(&alice, &bob, plaintext, size);
    }
    qsort(results, ROUNDS, sizeof *results, compare_doubles);
    printf("skencrypt %.1f\n", results[ROUNDS / 2]);

    /* skdecrypt: Bob in order, each message verified, pre-encrypted outside the timing. */
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0;
        long operations = 0;
        while (spent < round_seconds) {
            for (int i = 0; i < BATCH; i++) batch[i] = group_encrypt(&alice, plaintext, size);
            double start = cpu_now();
            for (int i = 0; i < BATCH; i++) group_decrypt(&bob, batch[i]);
            spent += cpu_now() - start;
            operations += BATCH;
            for (int i = 0; i < BATCH; i++) signal_buffer_free(batch[i]);
        }
        results[round] = operations / spent;
    }
    qsort(results, ROUNDS, sizeof *results, compare_doubles);
    printf("skdecrypt %.1f\n", results[ROUNDS / 2]);
    free(plaintext);
    return 0;
}
