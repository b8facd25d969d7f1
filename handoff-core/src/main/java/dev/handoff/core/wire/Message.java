package dev.handoff.core.wire;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * The messages of the handoff protocol. Each travels as one JSON frame ({@code "type"} names it); see
 * docs/protocol.md for the sequence.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = Message.Hello.class, name = "hello"),
        @JsonSubTypes.Type(value = Message.Welcome.class, name = "welcome"),
        @JsonSubTypes.Type(value = Message.Busy.class, name = "busy"),
        @JsonSubTypes.Type(value = Message.Refused.class, name = "refused"),
        @JsonSubTypes.Type(value = Message.Handover.class, name = "manifest"),
        @JsonSubTypes.Type(value = Message.Ready.class, name = "ready"),
        @JsonSubTypes.Type(value = Message.Failed.class, name = "failed"),
        @JsonSubTypes.Type(value = Message.Connections.class, name = "connections"),
        @JsonSubTypes.Type(value = Message.Adopted.class, name = "adopted"),
        @JsonSubTypes.Type(value = Message.Goodbye.class, name = "goodbye"),
        @JsonSubTypes.Type(value = Message.Proof.class, name = "proof"),
        @JsonSubTypes.Type(value = Message.Confirmed.class, name = "confirmed"),
})
public sealed interface Message {

    /**
     * Successor → incumbent, first: who it is and what it speaks. {@code nonce} is fresh for each attempt;
     * an incumbent with a shared secret proves it over this nonce. {@code maxMessageBytes} is the largest
     * payload it receives (0 from a version 1 peer: the default limit). With {@link #LIFELINE} in
     * {@code capabilities} the successor's lifeline is attached.
     */
    record Hello(List<Integer> versions, long pid, int maxFdsPerMessage, List<String> capabilities, String nonce,
                 int maxMessageBytes) implements Message {

        public Hello {
            capabilities = capabilities == null ? List.of() : List.copyOf(capabilities);
        }

        public Hello(List<Integer> versions, long pid, int maxFdsPerMessage, List<String> capabilities) {
            this(versions, pid, maxFdsPerMessage, capabilities, null, 0);
        }
    }

    /**
     * The capability a side names when its lifeline is attached to its hello or welcome: a descriptor whose
     * other end only its process holds, so that the peer sees end of stream on it exactly when that
     * process is gone, across pid namespaces too.
     */
    String LIFELINE = "lifeline";

    /**
     * The capability a side names when it has a shared secret: in {@link Hello} (an incumbent without one
     * refuses at once) and in {@link Welcome} (the successor must prove it).
     */
    String SECRET = "secret";

    /**
     * Incumbent → successor: the chosen protocol version and who the incumbent is. With a shared secret,
     * {@code capabilities} names {@link #SECRET}, {@code nonce} is the incumbent's own and {@code proof}
     * shows it knows the secret; the successor then answers with {@link Proof}.
     */
    record Welcome(int version, long pid, int generation, int maxFdsPerMessage, List<String> capabilities,
                   String nonce, String proof, int maxMessageBytes) implements Message {

        public Welcome {
            capabilities = capabilities == null ? List.of() : List.copyOf(capabilities);
        }

        public Welcome(int version, long pid, int generation, int maxFdsPerMessage, List<String> capabilities) {
            this(version, pid, generation, maxFdsPerMessage, capabilities, null, null, 0);
        }
    }

    /** Successor → incumbent, after a {@link Welcome} that names {@link #SECRET}: its proof of the secret. */
    record Proof(String proof) implements Message {
    }

    /** Incumbent → successor: another handoff is under way; try again later. */
    record Busy(String reason) implements Message {
    }

    /** Either way: the peer is not accepted (wrong uid, no common version, ...). */
    record Refused(String reason) implements Message {
    }

    /** Incumbent → successor, with the descriptors attached; the manifest layer reads the tree. */
    record Handover(JsonNode manifest) implements Message {
    }

    /** The capability a successor names in READY when it adopts established connections. */
    String CONNECTIONS = "connections";

    /** Successor → incumbent: serving; {@code capabilities} may name {@link #CONNECTIONS}. */
    record Ready(long pid, List<String> capabilities) implements Message {

        public Ready {
            capabilities = capabilities == null ? List.of() : List.copyOf(capabilities);
        }
    }

    /**
     * Incumbent → successor, in answer to READY (version 2): the successor serves. Until it arrives the
     * successor must not count on serving: an incumbent that gave up waiting for READY says
     * {@link Refused} instead, or nothing. {@code drainTimeoutMillis} bounds how long connections may keep
     * coming (0: no limit).
     */
    record Confirmed(long drainTimeoutMillis) implements Message {
    }

    /** Successor → incumbent: the handoff failed on this side; the incumbent keeps serving. */
    record Failed(String reason) implements Message {
    }

    /**
     * Incumbent → successor, after READY, with one descriptor per connection attached; the manifest
     * layer reads the array.
     */
    record Connections(JsonNode connections) implements Message {
    }

    /**
     * Successor → incumbent, in answer to each {@link Connections}: every connection of the batch is now
     * the successor's except those {@code rejected} (by index in the batch), which stay the incumbent's.
     */
    record Adopted(List<Rejection> rejected) implements Message {

        public Adopted {
            rejected = rejected == null ? List.of() : List.copyOf(rejected);
        }
    }

    /** A connection the successor would not take, and why. */
    record Rejection(int index, String reason) {
    }

    /** Incumbent → successor: the incumbent is done and exits. */
    record Goodbye(String reason) implements Message {
    }
}
