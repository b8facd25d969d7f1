package dev.handoff.spring;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.Takeover;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mover against a real takeover (two {@link Handoff}s in this JVM) and a server of real loopback
 * connections and a real selector, where a server thread's release crosses the end of moving.
 */
@Timeout(60)
class ConnectionMoverTest {

    @TempDir
    Path temp;

    /**
     * Released connections whose keys are cancelled and not yet dropped by their selectors go back only once
     * they are deregistered (registered again before that, a server would never poll them, or would close
     * them): one still queued as moving ends, and one a server thread released as moving ended, which the
     * drain counts as open meanwhile.
     */
    @Test
    void releasedConnectionsGoBackOnceDeregisteredAndOneReleasedAsMovingEndsCountsAsOpenMeanwhile() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("m.sock"))
                .probation(Duration.ZERO).build();
        try (Handoff incumbent = Handoff.start(options);
             ServerSocketChannel listener = ServerSocketChannel.open()
                     .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             Selector selector = Selector.open();
             Selector running = Selector.open();
             SocketChannel first = connect(listener);
             SocketChannel late = connect(listener)) {
            incumbent.ready();
            Takeover takeover;
            try (Handoff successor = Handoff.start(options)) {
                successor.ready(); // with no connection handler: it adopts none, so moving ends at once
                takeover = incumbent.awaitExit(Duration.ofSeconds(30)).orElseThrow();
            }
            Thread mover = Thread.currentThread();
            Thread selecting = null;
            try {
                first.configureBlocking(false);
                first.register(running, SelectionKey.OP_READ).cancel(); // dropped once its selector runs
                late.configureBlocking(false);
                SelectionKey key = late.register(selector, SelectionKey.OP_READ);
                LateReleasingServer server = new LateReleasingServer(first, late, key);
                // Moving ends (the server is told to keep what it has): the first one's selector runs once the
                // mover waits for it, or has given it back without waiting.
                selecting = new Thread(() -> dropKeysOnceWaitedFor(server, mover, running), "test-selector");
                selecting.start();
                ConnectionMover connectionMover = new ConnectionMover(server, takeover);

                connectionMover.run(() -> 1);

                assertFalse(server.firstGivenBack.getNow(true), "the queued one was registered when given back");
                assertEquals(1, connectionMover.late(), "released as moving ended, in neither the server nor the successor");
                assertFalse(server.lateGivenBack.isDone(), "given back while its cancelled key was still registered");
                selector.selectNow(); // the server's selector runs again: the cancelled key goes
                assertFalse(server.lateGivenBack.get(10, TimeUnit.SECONDS), "registered when given back");
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (connectionMover.late() > 0 && System.nanoTime() - until < 0) {
                    Thread.sleep(1);
                }
                assertEquals(0, connectionMover.late());
                assertEquals(2, connectionMover.kept());
                assertTrue(late.isOpen(), "still this process's to serve");
            } finally {
                takeover.done();
                if (selecting != null) {
                    selecting.join();
                }
            }
        }
    }

    private static void dropKeysOnceWaitedFor(LateReleasingServer server, Thread mover, Selector selector) {
        try {
            server.keeping.await();
            while (!server.firstGivenBack.isDone() && mover.getState() != Thread.State.TIMED_WAITING) {
                Thread.onSpinWait();
            }
            selector.selectNow();
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static SocketChannel connect(ServerSocketChannel listener) throws IOException {
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        client.close(); // the server's end is what moves; the client's only needs to have connected
        return listener.accept();
    }

    /**
     * Releases one connection when asked to; as that one is given back, a server thread releases another
     * whose key it has just cancelled (as each server does before handing a connection to the sink). Each
     * records whether it was still registered when given back.
     */
    private static final class LateReleasingServer implements MovableConnections {
        final CountDownLatch keeping = new CountDownLatch(1);
        final CompletableFuture<Boolean> firstGivenBack = new CompletableFuture<>();
        final CompletableFuture<Boolean> lateGivenBack = new CompletableFuture<>();
        private final SocketChannel first;
        private final SocketChannel late;
        private final SelectionKey lateKey;
        private Consumer<Connection> sink;

        LateReleasingServer(SocketChannel first, SocketChannel late, SelectionKey lateKey) {
            this.first = first;
            this.late = late;
            this.lateKey = lateKey;
        }

        @Override
        public String listener() {
            return "http";
        }

        @Override
        public void adopt(Connection connection) {
            throw new AssertionError("the successor adopts; this server only gives back");
        }

        @Override
        public void release(Consumer<Connection> to) {
            sink = to;
            to.accept(new Connection("http", first));
        }

        @Override
        public void giveBack(Connection connection) {
            if (connection.channel() == first) {
                firstGivenBack.complete(connection.channel().isRegistered());
                lateKey.cancel();
                sink.accept(new Connection("http", late));
            } else {
                lateGivenBack.complete(connection.channel().isRegistered());
            }
        }

        @Override
        public void wakeIdle() {
        }

        @Override
        public void keep() {
            keeping.countDown();
        }

        @Override
        public Map<String, Integer> unmovable() {
            return Map.of();
        }

        @Override
        public void closeUnmovable() {
        }

        @Override
        public int idleConnections() {
            return 0;
        }

        @Override
        public void closeIdleConnections() {
        }
    }
}
