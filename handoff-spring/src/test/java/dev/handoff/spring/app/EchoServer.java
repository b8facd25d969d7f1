package dev.handoff.spring.app;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.core.Takeover;
import dev.handoff.spring.HandoffDrainParticipant;
import org.springframework.beans.factory.DisposableBean;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * An application's own raw TCP server taking part as a bean: its port comes from the {@link Handoff} (under
 * its listener name), its connections from the predecessor (adopted with their unread bytes: those of its
 * own listener only), and when it is told to drain it hands every connection to the successor. Line echo:
 * each line is answered with {@code <pid> <listener> <line>}, so that a connection served by another
 * server shows.
 */
class EchoServer implements HandoffDrainParticipant, DisposableBean {

    private final Selector selector = Selector.open();
    private final Thread loop;
    private volatile boolean closing;
    private final String name;
    private final ServerSocketChannel listener;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final byte[] prefix;

    EchoServer(Handoff handoff, String name, int port) throws IOException {
        this.name = name;
        prefix = (ProcessHandle.current().pid() + " " + name + " ").getBytes(StandardCharsets.US_ASCII);
        listener = handoff.listen(name, new InetSocketAddress("127.0.0.1", port));
        listener.configureBlocking(false);
        listener.register(selector, SelectionKey.OP_ACCEPT);
        handoff.onConnection(name, connection -> run(() -> serve(connection.channel(), connection.unread())));
        loop = new Thread(this::loop, "echo-server-" + name);
        loop.setDaemon(true);
        loop.start();
    }

    /**
     * Ends the loop and closes what is left (nothing after a drain): a thread still blocked in select at
     * exit would hold the JVM's exit back by about 300 ms.
     */
    @Override
    public void destroy() throws Exception {
        closing = true;
        selector.wakeup();
        loop.join(TimeUnit.SECONDS.toMillis(5));
    }

    @Override
    public void drain(Takeover takeover) throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        run(() -> {
            try {
                List<Connection> connections = new ArrayList<>();
                for (SelectionKey key : selector.keys()) {
                    key.cancel();
                    if (key.attachment() instanceof ByteBuffer unread) {
                        connections.add(new Connection(name, (SocketChannel) key.channel(), null, unread.flip()));
                    }
                }
                selector.selectNow(); // deregistered before they move
                listener.close();
                for (Connection kept : takeover.handOver(connections)) {
                    kept.channel().close();
                }
                done.complete(null);
            } catch (IOException e) {
                done.completeExceptionally(e);
            }
        });
        done.get(Math.max(1, takeover.deadline().toEpochMilli() - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
    }

    private void run(Runnable task) {
        tasks.add(task);
        selector.wakeup();
    }

    private void loop() {
        try (selector) {
            while (!closing) {
                selector.select();
                for (Runnable task = tasks.poll(); task != null; task = tasks.poll()) {
                    task.run();
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        SocketChannel accepted = listener.accept();
                        if (accepted != null) {
                            serve(accepted, ByteBuffer.allocate(0));
                        }
                    } else if (key.isReadable()) {
                        read(key);
                    }
                }
                selector.selectedKeys().clear();
            }
            for (SelectionKey key : selector.keys()) {
                key.channel().close();
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void serve(SocketChannel channel, ByteBuffer unread) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(4096).put(unread);
            channel.configureBlocking(false);
            SelectionKey key = channel.register(selector, SelectionKey.OP_READ, buffer);
            answerLines(key);
        } catch (IOException e) {
            close(channel);
        }
    }

    private void read(SelectionKey key) {
        SocketChannel channel = (SocketChannel) key.channel();
        try {
            if (channel.read((ByteBuffer) key.attachment()) < 0) {
                close(channel);
                return;
            }
            answerLines(key);
        } catch (IOException e) {
            close(channel);
        }
    }

    /** Answers every complete line in the buffer; the rest stays for later (or travels as unread). */
    private void answerLines(SelectionKey key) throws IOException {
        ByteBuffer buffer = (ByteBuffer) key.attachment();
        buffer.flip();
        int start = buffer.position();
        for (int i = buffer.position(); i < buffer.limit(); i++) {
            if (buffer.get(i) == '\n') {
                ByteBuffer answer = ByteBuffer.allocate(prefix.length + i + 1 - start).put(prefix);
                answer.put(buffer.duplicate().position(start).limit(i + 1)).flip();
                while (answer.hasRemaining()) {
                    ((SocketChannel) key.channel()).write(answer);
                }
                start = i + 1;
            }
        }
        buffer.position(start);
        buffer.compact();
    }

    private static void close(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // gone already
        }
    }
}
