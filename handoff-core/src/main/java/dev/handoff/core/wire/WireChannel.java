package dev.handoff.core.wire;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.PeerCredentials;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * The handoff protocol over an {@link FdChannel}: each message is one JSON frame (the fd channel's
 * length-prefixed payload), optionally with descriptors. Every receive has a timeout.
 */
public final class WireChannel implements Closeable {

    static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private final FdChannel channel;
    private final Duration sendTimeout;

    /** Every message sent must be taken by the peer within {@code sendTimeout} (zero: no limit). */
    public WireChannel(FdChannel channel, Duration sendTimeout) {
        this.channel = channel;
        this.sendTimeout = sendTimeout;
    }

    /** A channel whose sends have no time limit (for tools and tests that play a peer). */
    public WireChannel(FdChannel channel) {
        this(channel, Duration.ZERO);
    }

    /** A message and the descriptors that came with it (owned by {@code fds} until taken). */
    public record Received<T extends Message>(T message, FdMessage fds) implements AutoCloseable {

        /** Closes any descriptor that came with the message and was not taken. */
        @Override
        public void close() {
            fds.close();
        }
    }

    public FdChannel fdChannel() {
        return channel;
    }

    public PeerCredentials peer() throws IOException {
        return channel.peer();
    }

    public void send(Message message) throws IOException {
        send(message, List.of());
    }

    public void send(Message message, List<FileDescriptor> fds) throws IOException {
        channel.send(encode(message), fds, sendTimeout);
    }

    /** Receives the next message, which must be one of {@code expected}; a zero timeout waits for ever. */
    @SafeVarargs
    public final Received<Message> receive(Duration timeout, Class<? extends Message>... expected) throws IOException {
        return receive(timeout, List.of(expected));
    }

    /** Receives the next message, which must be one of {@code expected}; a zero timeout waits for ever. */
    public Received<Message> receive(Duration timeout, List<Class<? extends Message>> expected) throws IOException {
        FdMessage frame = channel.receive(timeout);
        try {
            Message message = decode(frame.payload());
            for (Class<? extends Message> type : expected) {
                if (type.isInstance(message)) {
                    return new Received<>(message, frame);
                }
            }
            throw new UnexpectedMessageException("unexpected " + message.getClass().getSimpleName() + " message");
        } catch (IOException | RuntimeException e) {
            frame.close();
            throw e;
        }
    }

    /**
     * Loads and links the JSON codec for every message type, so that the first handoff of a freshly
     * started JVM does not pay for it between connect and READY, while the incumbent waits.
     */
    public static void warmUp() {
        try {
            for (Message message : List.<Message>of(new Message.Hello(List.of(1), 1, 1, List.of()),
                    new Message.Welcome(1, 1, 1, 1, List.of()), new Message.Handover(JSON.createObjectNode().put("schema", 1)), new Message.Ready(1, List.of(Message.CONNECTIONS)),
                    new Message.Connections(JSON.createArrayNode()), new Message.Adopted(List.of(new Message.Rejection(0, "r"))),
                    new Message.Failed("warm-up"), new Message.Goodbye("warm-up"), new Message.Proof("warm-up"),
                    new Message.Confirmed(1))) {
                decode(JSON.writeValueAsBytes(message));
            }
        } catch (IOException e) {
            throw new IllegalStateException("JSON codec does not round-trip", e);
        }
    }

    /** One frame's payload. */
    public static byte[] encode(Message message) throws IOException {
        return JSON.writeValueAsBytes(message);
    }

    /** Reads one frame's payload as a message; anything else is a {@link ProtocolException}. */
    public static Message decode(byte[] payload) throws ProtocolException {
        try {
            Message message = JSON.readValue(payload, Message.class);
            if (message == null) {
                throw new ProtocolException("empty frame");
            }
            return message;
        } catch (JsonProcessingException e) {
            throw new ProtocolException("malformed frame: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ProtocolException("unreadable frame: " + e.getMessage(), e);
        }
    }

    public void shutdown() {
        channel.shutdown();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
