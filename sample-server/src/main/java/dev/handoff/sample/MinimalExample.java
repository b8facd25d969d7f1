package dev.handoff.sample;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.Takeover;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The smallest complete server on Handoff, a line echo on one selector thread (the README's API section is
 * this file). Start it, connect ({@code nc 127.0.0.1 7000}), start it again: the new copy takes the port and
 * your connection over, and the old one exits. Arguments: {@code [port] [socket]}.
 */
public final class MinimalExample {

    private final Selector selector;
    private final Queue<Task> tasks = new ConcurrentLinkedQueue<>(); // run on the selector thread
    private final byte[] pid = (ProcessHandle.current().pid() + " ").getBytes(StandardCharsets.US_ASCII);
    private ServerSocketChannel listener;

    public static void main(String[] args) throws IOException {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 7000;
        Path socket = Path.of(args.length > 1 ? args[1] : "/tmp/handoff-minimal/handoff.sock");
        new MinimalExample(Selector.open()).serve(port, socket);
    }

    private MinimalExample(Selector selector) {
        this.selector = selector;
    }

    private void serve(int port, Path socket) throws IOException {
        // A running copy hands over its sockets; nobody there: a cold start.
        Handoff handoff = Handoff.start(HandoffOptions.builder(socket).build());
        listener = handoff.listen("echo", new InetSocketAddress("127.0.0.1", port)); // inherited, or bound
        listen();
        // The predecessor's live connections, each with the bytes it had read and not answered.
        handoff.onConnection(moved -> execute(() -> register(moved.channel(), moved.unread())));
        handoff.onExit(takeover -> execute(() -> drain(takeover))); // a successor took over: drain
        handoff.ready(); // serving: the predecessor may go, successors may come
        System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation=" + handoff.generation());
        while (true) {
            selector.select();
            for (Task task = tasks.poll(); task != null; task = tasks.poll()) {
                task.run();
            }
            for (SelectionKey key : selector.selectedKeys()) {
                if (key.isValid() && key.isAcceptable()) {
                    SocketChannel accepted = listener.accept();
                    if (accepted != null) {
                        register(accepted, ByteBuffer.allocate(0));
                    }
                } else if (key.isValid() && key.isReadable()) {
                    echo(key);
                }
            }
            selector.selectedKeys().clear();
        }
    }

    /** Between two lines every connection is quiet: all of them move at once, then this copy exits. */
    private void drain(Takeover takeover) throws IOException {
        List<Connection> connections = new ArrayList<>();
        for (SelectionKey key : selector.keys()) {
            key.cancel(); // stop accepting; and a connection must leave its selector before it moves
            if (key.attachment() instanceof ByteBuffer unread) {
                connections.add(new Connection("echo", (SocketChannel) key.channel(), null, unread.flip()));
            }
        }
        selector.selectNow();
        List<Connection> stayed = takeover.handOver(connections); // what the successor did not take
        if (takeover.resume()) { // it died while they moved: serve on, they are all still here
            listen();
            stayed.forEach(connection -> register(connection.channel(), connection.unread()));
            return;
        }
        stayed.forEach(connection -> close(connection.channel()));
        takeover.done();
        System.out.println("EXIT pid=" + ProcessHandle.current().pid() + " handed over " + takeover.connectionsHandedOver());
        System.exit(0);
    }

    private void listen() throws IOException {
        selector.selectNow(); // a key cancelled by a drain must be gone before the channel registers again
        listener.configureBlocking(false).register(selector, SelectionKey.OP_ACCEPT);
    }

    private void register(SocketChannel channel, ByteBuffer unread) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(4096).put(unread);
            channel.configureBlocking(false).register(selector, SelectionKey.OP_READ, buffer);
        } catch (IOException e) {
            close(channel);
        }
    }

    /** Answers each complete line with {@code <pid> <line>}; a line begun stays in the buffer. */
    private void echo(SelectionKey key) {
        SocketChannel channel = (SocketChannel) key.channel();
        ByteBuffer buffer = (ByteBuffer) key.attachment();
        try {
            if (channel.read(buffer) < 0) {
                close(channel);
                return;
            }
            buffer.flip();
            for (int end = buffer.position(); end < buffer.limit(); end++) {
                if (buffer.get(end) == '\n') {
                    ByteBuffer[] answer = {ByteBuffer.wrap(pid), buffer.slice(buffer.position(), end + 1 - buffer.position())};
                    while (answer[1].hasRemaining()) {
                        channel.write(answer);
                    }
                    buffer.position(end + 1);
                }
            }
            buffer.compact();
        } catch (IOException e) {
            close(channel);
        }
    }

    private interface Task {
        void run() throws IOException;
    }

    private void execute(Task task) {
        tasks.add(task);
        selector.wakeup();
    }

    private static void close(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // gone already
        }
    }
}
