package dev.handoff.core.session;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * A secret both generations know, for hosts where the peer's uid cannot tell them apart. Each side
 * proves it holds the secret with an HMAC-SHA256 over both sides' fresh nonces, labelled with its role,
 * so that no proof can be replayed in another handoff or passed off as the other side's.
 */
public final class SharedSecret {

    /** Fewer bytes than this are more guessable than a secret should be. */
    public static final int MIN_BYTES = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] key;

    public SharedSecret(byte[] key) {
        if (key.length < MIN_BYTES) {
            throw new IllegalArgumentException("a shared secret needs at least " + MIN_BYTES + " bytes, got " + key.length);
        }
        this.key = key.clone();
    }

    /**
     * Seeds the random generator and loads the HMAC code (tens of milliseconds each in a new JVM), so
     * that neither happens between a successor's connect and its READY while the incumbent waits.
     */
    public static void warmUp(SharedSecret secret) {
        String nonce = nonce();
        if (secret != null) {
            matches(secret.incumbentProof(nonce, nonce), secret.successorProof(nonce, nonce));
        }
    }

    /** A fresh random nonce, as it travels in the protocol. */
    public static String nonce() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes);
    }

    /** The incumbent's proof: it comes first, so it is bound to the successor's nonce as well as its own. */
    String incumbentProof(String successorNonce, String incumbentNonce) {
        return mac("incumbent", successorNonce, incumbentNonce);
    }

    String successorProof(String successorNonce, String incumbentNonce) {
        return mac("successor", successorNonce, incumbentNonce);
    }

    /** Compares in constant time, so that timing tells nothing about how much of a guess was right. */
    static boolean matches(String expected, String actual) {
        return actual != null && MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                actual.getBytes(StandardCharsets.US_ASCII));
    }

    private String mac(String role, String successorNonce, String incumbentNonce) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            String input = "handoff-v1 " + role + " " + successorNonce + " " + incumbentNonce;
            return Base64.getEncoder().encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    @Override
    public String toString() {
        return "SharedSecret[" + key.length + " bytes]";
    }
}
