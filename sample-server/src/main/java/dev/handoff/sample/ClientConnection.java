package dev.handoff.sample;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.handoff.core.Connection;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * One client connection on the event loop: the bytes received and not yet answered, the answers not yet
 * written, and whether an answer is still being worked on. It is quiet, and may move to a successor,
 * when nothing is being worked on and nothing waits to be written.
 */
final class ClientConnection {

    private final EventLoop loop;
    private final SocketChannel channel;
    private final String listener;
    private final Protocol protocol;
    private final ArrayDeque<ByteBuffer> output = new ArrayDeque<>();
    private SelectionKey key;
    private byte[] input = new byte[512];
    private int length;
    private boolean busy;
    private boolean closeAfterWrite;
    private long served;

    ClientConnection(EventLoop loop, SocketChannel channel, String listener, Protocol protocol, JsonNode attachment) {
        this.loop = loop;
        this.channel = channel;
        this.listener = listener;
        this.protocol = protocol;
        this.served = attachment == null ? 0 : attachment.path("served").asLong();
    }

    SocketChannel channel() {
        return channel;
    }

    String listener() {
        return listener;
    }

    EventLoop loop() {
        return loop;
    }

    void key(SelectionKey key) {
        this.key = key;
    }

    SelectionKey key() {
        return key;
    }

    byte[] input() {
        return input;
    }

    int inputLength() {
        return length;
    }

    void append(ByteBuffer bytes) {
        int n = bytes.remaining();
        if (length + n > input.length) {
            input = Arrays.copyOf(input, Math.max(input.length * 2, length + n));
        }
        bytes.get(input, length, n);
        length += n;
    }

    void consume(int n) {
        System.arraycopy(input, n, input, 0, length - n);
        length -= n;
    }

    boolean busy() {
        return busy;
    }

    void busy(boolean value) {
        busy = value;
    }

    void served() {
        served++;
    }

    void process() {
        protocol.process(this);
    }

    /** Queues an answer and writes what the socket takes now; the rest goes when it is writable. */
    void send(byte[] bytes, boolean thenClose) {
        output.add(ByteBuffer.wrap(bytes));
        closeAfterWrite |= thenClose;
        flush();
    }

    void flush() {
        try {
            while (!output.isEmpty()) {
                ByteBuffer head = output.peek();
                channel.write(head);
                if (head.hasRemaining()) {
                    key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                    return;
                }
                output.poll();
            }
            if (key.isValid()) {
                key.interestOps(SelectionKey.OP_READ);
            }
            if (closeAfterWrite) {
                loop.close(this);
            }
        } catch (IOException e) {
            loop.close(this);
        }
    }

    /** Nothing in flight: no answer being worked on, nothing left to write, no request to close after. */
    boolean isQuiet() {
        return !busy && output.isEmpty() && !closeAfterWrite && channel.isOpen();
    }

    /** What travels to the successor: the state, and the bytes received but not answered yet. */
    Connection toHandoff() {
        return new Connection(listener, channel, JsonNodeFactory.instance.objectNode().put("served", served),
                ByteBuffer.wrap(input, 0, length));
    }
}
