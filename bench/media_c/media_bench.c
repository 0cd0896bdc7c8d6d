/*
 * media_bench: WhatsApp media encryption on OpenSSL 3 (EVP), the peer of wause-bench's media
 * figures for `make bench`. The same four passes as WauseProtocol's MediaEncryptor and
 * MediaDecryptor (whatsmeow upload.go Upload, download.go downloadAndDecrypt): AES-256-CBC with
 * PKCS#7, HMAC-SHA256(macKey, iv || ciphertext) truncated to 10 bytes, SHA-256 of the plaintext
 * and SHA-256 of ciphertext || MAC, streamed over the file in 64 KB pieces.
 *
 *   media_bench [--seconds S] [--size BYTES]
 *
 * Prints "encrypt <MB/s>" and "decrypt <MB/s>" (MB of plaintext per CPU-second of this thread,
 * median of 5 rounds, as wause-bench measures). Decrypt verifies the body hash, the MAC, the
 * padding and the plaintext hash, and exits 1 if any fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIECE (64 * 1024)
#define MAC_LENGTH 10
#define ROUNDS 5

#define CHECK(expression) do { if (!(expression)) { \
    fprintf(stderr, "media_bench: %s failed at line %d\n", #expression, __LINE__); exit(1); } } while (0)

static EVP_MAC *hmac_algorithm;
static EVP_MD *sha256_algorithm;
static EVP_CIPHER *cbc_algorithm;
/* Arbitrary fixed keys: the figures do not depend on them (HKDF runs once per file, outside). */
static unsigned char iv[16], cipher_key[32], mac_key[32];

static double cpu_now(void) {
    struct timespec time;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

static EVP_MAC_CTX *new_hmac(void) {
    EVP_MAC_CTX *context = EVP_MAC_CTX_new(hmac_algorithm);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end() };
    CHECK(context && EVP_MAC_init(context, mac_key, sizeof mac_key, params));
    CHECK(EVP_MAC_update(context, iv, sizeof iv));
    return context;
}

static EVP_MD_CTX *new_sha256(void) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    CHECK(context && EVP_DigestInit_ex2(context, sha256_algorithm, NULL));
    return context;
}

/* Encrypts plaintext[0..length) into body (room for length + 16 + 10); returns the body length. */
static size_t encrypt_file(const unsigned char *plaintext, size_t length, unsigned char *body,
                           unsigned char file_sha256[32], unsigned char file_enc_sha256[32]) {
    EVP_CIPHER_CTX *cipher = EVP_CIPHER_CTX_new();
    CHECK(cipher && EVP_EncryptInit_ex2(cipher, cbc_algorithm, cipher_key, iv, NULL));
    EVP_MAC_CTX *mac = new_hmac();
    EVP_MD_CTX *plain_hash = new_sha256(), *body_hash = new_sha256();
    size_t written = 0;
    for (size_t offset = 0; offset < length; offset += PIECE) {
        size_t count = length - offset < PIECE ? length - offset : PIECE;
        int produced = 0;
        CHECK(EVP_DigestUpdate(plain_hash, plaintext + offset, count));
        CHECK(EVP_EncryptUpdate(cipher, body + written, &produced, plaintext + offset, (int)count));
        CHECK(EVP_MAC_update(mac, body + written, (size_t)produced));
        CHECK(EVP_DigestUpdate(body_hash, body + written, (size_t)produced));
        written += (size_t)produced;
    }
    int produced = 0;
    CHECK(EVP_EncryptFinal_ex(cipher, body + written, &produced));
    CHECK(EVP_MAC_update(mac, body + written, (size_t)produced));
    CHECK(EVP_DigestUpdate(body_hash, body + written, (size_t)produced));
    written += (size_t)produced;
    unsigned char tag[32];
    size_t tag_length = 0;
    CHECK(EVP_MAC_final(mac, tag, &tag_length, sizeof tag));
    memcpy(body + written, tag, MAC_LENGTH);
    CHECK(EVP_DigestUpdate(body_hash, body + written, MAC_LENGTH));
    written += MAC_LENGTH;
    CHECK(EVP_DigestFinal_ex(plain_hash, file_sha256, NULL));
    CHECK(EVP_DigestFinal_ex(body_hash, file_enc_sha256, NULL));
    EVP_CIPHER_CTX_free(cipher);
    EVP_MAC_CTX_free(mac);
    EVP_MD_CTX_free(plain_hash);
    EVP_MD_CTX_free(body_hash);
    return written;
}

/* Verifies and decrypts body into plaintext (room for the ciphertext length); returns the
 * plaintext length. Any failed check exits: the bench only ever feeds it good bodies. */
static size_t decrypt_file(const unsigned char *body, size_t length, unsigned char *plaintext,
                           const unsigned char file_sha256[32], const unsigned char file_enc_sha256[32]) {
    CHECK(length >= 16 + MAC_LENGTH && (length - MAC_LENGTH) % 16 == 0);
    size_t ciphertext_length = length - MAC_LENGTH;
    EVP_CIPHER_CTX *cipher = EVP_CIPHER_CTX_new();
    CHECK(cipher && EVP_DecryptInit_ex2(cipher, cbc_algorithm, cipher_key, iv, NULL));
    EVP_MAC_CTX *mac = new_hmac();
    EVP_MD_CTX *plain_hash = new_sha256(), *body_hash = new_sha256();
    size_t written = 0;
    for (size_t offset = 0; offset < ciphertext_length; offset += PIECE) {
        size_t count = ciphertext_length - offset < PIECE ? ciphertext_length - offset : PIECE;
        int produced = 0;
        CHECK(EVP_DigestUpdate(body_hash, body + offset, count));
        CHECK(EVP_MAC_update(mac, body + offset, count));
        CHECK(EVP_DecryptUpdate(cipher, plaintext + written, &produced, body + offset, (int)count));
        CHECK(EVP_DigestUpdate(plain_hash, plaintext + written, (size_t)produced));
        written += (size_t)produced;
    }
    CHECK(EVP_DigestUpdate(body_hash, body + ciphertext_length, MAC_LENGTH));
    unsigned char digest[32], tag[32];
    size_t tag_length = 0;
    CHECK(EVP_DigestFinal_ex(body_hash, digest, NULL));
    CHECK(CRYPTO_memcmp(digest, file_enc_sha256, 32) == 0);
    CHECK(EVP_MAC_final(mac, tag, &tag_length, sizeof tag));
    CHECK(CRYPTO_memcmp(tag, body + ciphertext_length, MAC_LENGTH) == 0);
    int produced = 0;
    CHECK(EVP_DecryptFinal_ex(cipher, plaintext + written, &produced));  /* checks the padding */
    CHECK(EVP_DigestUpdate(plain_hash, plaintext + written, (size_t)produced));
    written += (size_t)produced;
    CHECK(EVP_DigestFinal_ex(plain_hash, digest, NULL));
    CHECK(CRYPTO_memcmp(digest, file_sha256, 32) == 0);
    EVP_CIPHER_CTX_free(cipher);
    EVP_MAC_CTX_free(mac);
    EVP_MD_CTX_free(plain_hash);
    EVP_MD_CTX_free(body_hash);
    return written;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    double seconds = 2.0;
    size_t size = 16u << 20;
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--seconds") == 0 && index + 1 < argc) seconds = atof(argv[++index]);
        else if (strcmp(argv[index], "--size") == 0 && index + 1 < argc) size = (size_t)strtoull(argv[++index], NULL, 10);
        else { fprintf(stderr, "usage: media_bench [--seconds S] [--size BYTES]\n"); return 2; }
    }
    CHECK(hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL));
    CHECK(sha256_algorithm = EVP_MD_fetch(NULL, "SHA256", NULL));
    CHECK(cbc_algorithm = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL));
    for (size_t index = 0; index < sizeof cipher_key; index++) { cipher_key[index] = (unsigned char)index; mac_key[index] = (unsigned char)(index * 7); }
    for (size_t index = 0; index < sizeof iv; index++) iv[index] = (unsigned char)(index * 3);

    unsigned char *plaintext = malloc(size), *body = malloc(size + 16 + MAC_LENGTH), *decrypted = malloc(size + 16);
    CHECK(plaintext && body && decrypted);
    for (size_t index = 0; index < size; index++) plaintext[index] = (unsigned char)(index * 2654435761u >> 13);
    unsigned char file_sha256[32], file_enc_sha256[32];
    size_t body_length = encrypt_file(plaintext, size, body, file_sha256, file_enc_sha256);

    double round_seconds = seconds / 2 / ROUNDS, encrypt[ROUNDS], decrypt[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0, bytes = 0;
        while (spent < round_seconds) {
            double start = cpu_now();
            body_length = encrypt_file(plaintext, size, body, file_sha256, file_enc_sha256);
            spent += cpu_now() - start;
            bytes += (double)size;
        }
        encrypt[round] = bytes / spent / 1e6;
    }
    for (int round = 0; round < ROUNDS; round++) {
        double spent = 0, bytes = 0;
        while (spent < round_seconds) {
            double start = cpu_now();
            CHECK(decrypt_file(body, body_length, decrypted, file_sha256, file_enc_sha256) == size);
            spent += cpu_now() - start;
            bytes += (double)size;
        }
        decrypt[round] = bytes / spent / 1e6;
    }
    CHECK(memcmp(decrypted, plaintext, size) == 0);
    qsort(encrypt, ROUNDS, sizeof encrypt[0], compare);
    qsort(decrypt, ROUNDS, sizeof decrypt[0], compare);
    printf("encrypt %.1f\ndecrypt %.1f\n", encrypt[ROUNDS / 2], decrypt[ROUNDS / 2]);
    free(plaintext);
    free(body);
    free(decrypted);
    EVP_MAC_free(hmac_algorithm);
    EVP_MD_free(sha256_algorithm);
    EVP_CIPHER_free(cbc_algorithm);
    return 0;
}
