package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.Lifeline;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.testing.OpenFds;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Established connections moving between two generations (both in this process): state and unread
 * bytes travel, the client notices nothing, and whatever the successor does not take stays usable here.
 */
@Timeout(120)
class ConnectionHandoffTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    // Blocking tasks get threads of their own: the common pool may have a single thread on two cores.
    private static final java.util.concurrent.ExecutorService THREADS = java.util.concurrent.Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "test-task");
        thread.setDaemon(true);
        return thread;
    });

    @TempDir
    Path temp;

    @Test
    void connectionsMoveWithStateAndUnreadBytesAndTheClientNoticesNothing() throws Exception {
        moveConnections(temp.resolve("warm-up"), 3);
        OpenFds before = OpenFds.snapshot();
        // More than one message's worth of descriptors (253), so several batches go and are answered.
        moveConnections(temp.resolve("measured"), 300);
        before.assertNoLeak();
    }

    private void moveConnections(Path directory, int count) throws Exception {
        Files.createDirectories(directory);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        HandoffOptions options = HandoffOptions.builder(directory.resolve("run").resolve("h.sock"))
                .probation(Duration.ZERO).meterRegistry(registry).build();
        List<Socket> clients = new ArrayList<>();
        try (Handoff incumbent = Handoff.start(options)) {
            ServerSocketChannel listener = incumbent.listen("echo", new InetSocketAddress("127.0.0.1", 0));
            incumbent.ready();
            List<Connection> offered = new ArrayList<>();
            try (Selector selector = Selector.open()) {
                for (int i = 0; i < count; i++) {
                    Socket client = new Socket();
                    client.connect(listener.getLocalAddress());
                    client.setSoTimeout(10_000);
                    clients.add(client);
                    SocketChannel accepted = listener.accept();
                    accepted.configureBlocking(false);
                    // Half a line arrives before the handoff: the incumbent reads it but cannot act on it yet.
                    client.getOutputStream().write(("line-" + i + "-").getBytes(StandardCharsets.US_ASCII));
                    ByteBuffer buffer = ByteBuffer.allocate(64);
                    while (buffer.position() < ("line-" + i + "-").length()) {
                        accepted.read(buffer);
                    }
                    buffer.flip();
                    accepted.register(selector, SelectionKey.OP_READ);
                    ObjectNode state = JSON.createObjectNode().put("client", i);
                    offered.add(new Connection("echo", accepted, state, buffer));
                }
            BlockingQueue<Connection> adopted = new LinkedBlockingQueue<>();
            try (Handoff successor = Handoff.start(options);
                 ServerSocketChannel inherited = successor.listen("echo", (InetSocketAddress) listener.getLocalAddress())) {
                successor.onConnection(adopted::add);
                successor.ready();
                Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
                assertTrue(takeover.successorAdoptsConnections());
                listener.close();

                Connection registered = offered.get(0);
                IllegalArgumentException notReleased = assertThrows(IllegalArgumentException.class,
                        () -> takeover.handOver(List.of(registered)));
                assertTrue(notReleased.getMessage().contains("registered with a selector"), notReleased.getMessage());
                selector.keys().forEach(SelectionKey::cancel);
                selector.selectNow();

                assertEquals(List.of(), takeover.handOver(offered));
                assertEquals(count, takeover.connectionsHandedOver());
                for (Connection connection : offered) {
                    assertFalse(connection.channel().isOpen(), "the incumbent's copy is closed once adopted");
                }
                incumbent.close(); // goodbye: the successor stops listening for connections
                for (int i = 0; i < count; i++) {
                    clients.get(i).getOutputStream().write("rest\n".getBytes(StandardCharsets.US_ASCII));
                }
                for (int i = 0; i < count; i++) {
                    Connection connection = adopted.poll(10, TimeUnit.SECONDS);
                    assertNotNull(connection, "connection " + i + " was not adopted");
                    int client = connection.attachment().get("client").asInt();
                    assertEquals("echo", connection.listener());
                    String unread = StandardCharsets.US_ASCII.decode(connection.unread()).toString();
                    assertEquals("line-" + client + "-", unread);
                    String rest = readLine(connection.channel());
                    connection.channel().write(ByteBuffer.wrap(("got " + unread + rest + "\n").getBytes(StandardCharsets.US_ASCII)));
                    connection.channel().close();
                }
                for (int i = 0; i < count; i++) {
                    BufferedReader in = new BufferedReader(new InputStreamReader(clients.get(i).getInputStream(), StandardCharsets.US_ASCII));
                    assertEquals("got line-" + i + "-rest", in.readLine());
                }
                assertTrue(successor.predecessorFinished(Duration.ofSeconds(10)), "goodbye ends the reception");
            }
            }
        } finally {
            for (Socket client : clients) {
                client.close();
            }
        }
        assertEquals(count, registry.get("handoff.connections").tag("role", "incumbent").tag("outcome", "adopted").counter().count());
        assertEquals(count, registry.get("handoff.connections").tag("role", "successor").tag("outcome", "adopted").counter().count());
    }

    @Test
    void aSlowConnectionHandlerDelaysNoAnswerAConnectionTooLargeForOneMessageStaysWithTheIncumbentAndTheOthersAreToldMoved() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("h.sock"))
                .probation(Duration.ZERO).stepTimeout(Duration.ofSeconds(1)).maxMessageBytes(64 << 10).build();
        int count = 260; // two batches: the second is answered while the handler still sleeps on the first
        List<Socket> clients = new ArrayList<>();
        try (Handoff incumbent = Handoff.start(options)) {
            ServerSocketChannel listener = incumbent.listen("echo", new InetSocketAddress("127.0.0.1", 0));
            incumbent.ready();
            List<Connection> offered = new ArrayList<>();
            for (int i = 0; i <= count; i++) {
                Socket client = new Socket();
                client.connect(listener.getLocalAddress());
                clients.add(client);
                ObjectNode state = JSON.createObjectNode().put("client", i);
                if (i == count) {
                    state.put("huge", "x".repeat(100 << 10)); // more than one message carries
                }
                offered.add(new Connection("echo", listener.accept(), state, null));
            }
            BlockingQueue<Connection> adopted = new LinkedBlockingQueue<>();
            java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
            try (Handoff successor = Handoff.start(options);
                 ServerSocketChannel inherited = successor.listen("echo", (InetSocketAddress) listener.getLocalAddress())) {
                successor.onConnection(connection -> {
                    if (first.getAndSet(false)) {
                        sleepQuietly(Duration.ofSeconds(2)); // an application slower than the step timeout
                    }
                    adopted.add(connection);
                });
                successor.ready();
                Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
                List<Connection> told = new ArrayList<>();
                List<Connection> stayed = takeover.handOver(offered, moved -> {
                    assertFalse(moved.channel().isOpen(), "told once this process's channel is closed");
                    told.add(moved);
                    if (told.size() == 1) {
                        throw new IllegalStateException("a failing hook changes nothing of the hand-over");
                    }
                });
                assertEquals(List.of(offered.get(count)), stayed, "only the one too large to send stays");
                assertEquals(offered.subList(0, count), told, "told of each one that moved, in order, once");
                assertEquals(count, takeover.connectionsHandedOver());
                assertTrue(takeover.successorAdoptsConnections(), "nothing was late: the successor still adopts");
                assertTrue(stayed.get(0).channel().isOpen());
                for (int i = 0; i < count; i++) {
                    Connection connection = adopted.poll(10, TimeUnit.SECONDS);
                    assertNotNull(connection, "connection " + i + " was not adopted");
                    connection.channel().close();
                }
                stayed.get(0).channel().close();
            }
        } finally {
            for (Socket client : clients) {
                client.close();
            }
        }
    }

    private static void sleepQuietly(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aSuccessorWithoutAConnectionHandlerGetsNoneAndTheIncumbentKeepsServingThem() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("h.sock")).probation(Duration.ZERO).build();
        try (Handoff incumbent = Handoff.start(options);
             Socket client = new Socket()) {
            ServerSocketChannel listener = incumbent.listen("echo", new InetSocketAddress("127.0.0.1", 0));
            incumbent.ready();
            client.connect(listener.getLocalAddress());
            SocketChannel accepted = listener.accept();
            try (Handoff successor = Handoff.start(options)) {
                successor.ready();
                Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
                assertFalse(takeover.successorAdoptsConnections());
                Connection connection = new Connection("echo", accepted);
                assertEquals(List.of(connection), takeover.handOver(List.of(connection)));
                assertEquals(1, takeover.connectionsKept());
                assertEchoesThroughIncumbent(client, accepted);
            }
        }
    }

    /**
     * Two servers in one application, each with its own handler: every connection reaches the handler of
     * the listener that accepted it, and one whose listener has no handler stays with the incumbent.
     */
    @Test
    void eachListenersConnectionsGoToItsOwnHandlerAndAListenerWithoutOneKeepsItsConnections() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("h.sock")).probation(Duration.ZERO).build();
        try (Handoff incumbent = Handoff.start(options);
             Socket toA = new Socket(); Socket toB = new Socket(); Socket toC = new Socket()) {
            Map<String, ServerSocketChannel> listeners = new java.util.LinkedHashMap<>();
            for (String name : List.of("a", "b", "c")) {
                listeners.put(name, incumbent.listen(name, new InetSocketAddress("127.0.0.1", 0)));
            }
            incumbent.ready();
            toA.connect(listeners.get("a").getLocalAddress());
            toB.connect(listeners.get("b").getLocalAddress());
            toC.connect(listeners.get("c").getLocalAddress());
            List<Connection> offered = List.of(new Connection("a", listeners.get("a").accept()),
                    new Connection("b", listeners.get("b").accept()), new Connection("c", listeners.get("c").accept()));
            BlockingQueue<Connection> toHandlerA = new LinkedBlockingQueue<>();
            BlockingQueue<Connection> toHandlerB = new LinkedBlockingQueue<>();
            try (Handoff successor = Handoff.start(options)) {
                for (Map.Entry<String, ServerSocketChannel> listener : listeners.entrySet()) {
                    successor.listen(listener.getKey(), (InetSocketAddress) listener.getValue().getLocalAddress());
                }
                successor.onConnection("a", toHandlerA::add);
                successor.onConnection("b", toHandlerB::add);
                assertThrows(IllegalStateException.class, () -> successor.onConnection("a", toHandlerA::add));
                successor.ready();
                Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
                List<Connection> stayed = takeover.handOver(offered);
                assertEquals(List.of(offered.get(2)), stayed, "listener c has no handler in the successor");
                Connection a = toHandlerA.poll(10, TimeUnit.SECONDS);
                Connection b = toHandlerB.poll(10, TimeUnit.SECONDS);
                assertEquals("a", a.listener());
                assertEquals("b", b.listener());
                assertEquals(toA.getLocalPort(), ((InetSocketAddress) a.channel().getRemoteAddress()).getPort());
                assertEquals(toB.getLocalPort(), ((InetSocketAddress) b.channel().getRemoteAddress()).getPort());
                assertEchoesThroughIncumbent(toC, offered.get(2).channel());
                a.channel().close();
                b.channel().close();
                takeover.done();
            }
        }
    }

    @Test
    void aDrainPastItsDeadlineEndsByItselfReleasingTheSuccessorAndTheConnectionsStayWithTheIncumbent() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("h.sock"))
                .probation(Duration.ZERO).drainTimeout(Duration.ofSeconds(1)).build();
        try (Handoff incumbent = Handoff.start(options);
             Socket client = new Socket()) {
            ServerSocketChannel listener = incumbent.listen("echo", new InetSocketAddress("127.0.0.1", 0));
            incumbent.ready();
            client.connect(listener.getLocalAddress());
            client.setSoTimeout(10_000);
            SocketChannel accepted = listener.accept();
            try (Handoff successor = Handoff.start(options)) {
                successor.onConnection(connection -> close(connection.channel()));
                successor.ready();
                Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
                assertFalse(takeover.isExpired());
                // The application never says done: at the deadline the successor hears goodbye all the same.
                assertTrue(successor.predecessorFinished(Duration.ofSeconds(10)), "the takeover ended at its deadline");
                assertTrue(takeover.isExpired());
                Connection connection = new Connection("echo", accepted);
                assertEquals(List.of(connection), takeover.handOver(List.of(connection)), "nothing moves after the deadline");
                assertEchoesThroughIncumbent(client, accepted);
            }
        }
    }

    @Test
    void aSuccessorThatDiesBeforeAnsweringLeavesEveryConnectionWithTheIncumbent() throws Exception {
        try (TakenOver takenOver = takenOverByRawSuccessor(Duration.ofSeconds(5))) {
            Handoff incumbent = takenOver.incumbent();
            Takeover takeover = takenOver.takeover();
            Socket client = takenOver.client();
            SocketChannel accepted = takenOver.accepted();
            WireChannel successor = takenOver.successor();
            CompletableFuture<Void> dies = CompletableFuture.runAsync(() -> {
                try (WireChannel.Received<Message> batch = successor.receive(Duration.ofSeconds(10), Message.Connections.class)) {
                    assertEquals(1, batch.fds().fdCount());
                } catch (IOException e) {
                    throw new RuntimeException(e);
                } finally {
                    close(takenOver.peer()); // crashes: its copies of the descriptors close, unanswered
                }
            }, THREADS);
            Connection connection = new Connection("echo", accepted);
            assertEquals(List.of(connection), takeover.handOver(List.of(connection)));
            dies.get(10, TimeUnit.SECONDS);
            assertFalse(takeover.successorAdoptsConnections());
            assertTrue(takeover.isSuccessorLost());
            assertEchoesThroughIncumbent(client, accepted);

            // This process is the incumbent again: the next successor gets everything.
            assertTrue(takeover.resume());
            assertFalse(takeover.resume(), "nothing to resume twice");
            BlockingQueue<Connection> adopted = new LinkedBlockingQueue<>();
            try (Handoff next = Handoff.start(incumbent.options());
                 ServerSocketChannel inherited = next.listen("echo", (InetSocketAddress) takenOver.listener().getLocalAddress())) {
                assertEquals(2, next.generation());
                next.onConnection(adopted::add);
                next.ready();
                Takeover second = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
                assertEquals(List.of(), second.handOver(List.of(new Connection("echo", accepted))));
                try (SocketChannel moved = adopted.poll(10, TimeUnit.SECONDS).channel()) {
                    assertEchoesThroughIncumbent(client, moved);
                }
                incumbent.close();
            }
        }
    }

    @Test
    void aSecondHandOverWhileABatchAwaitsItsAnswerWaitsItsTurnAndMovesToo() throws Exception {
        try (TakenOver takenOver = takenOverByRawSuccessor(Duration.ofSeconds(5));
             Socket secondClient = new Socket()) {
            Takeover takeover = takenOver.takeover();
            WireChannel successor = takenOver.successor();
            secondClient.connect(takenOver.listener().getLocalAddress());
            SocketChannel second = takenOver.listener().accept();
            java.util.concurrent.CountDownLatch firstBatchArrived = new java.util.concurrent.CountDownLatch(1);
            CompletableFuture<Integer> answers = CompletableFuture.supplyAsync(() -> {
                int batches = 0;
                try {
                    while (batches < 2) {
                        try (WireChannel.Received<Message> batch = successor.receive(Duration.ofSeconds(10), Message.Connections.class)) {
                            batch.fds().close(); // this raw successor adopts by answering; it serves nothing
                        }
                        firstBatchArrived.countDown();
                        Thread.sleep(300); // the first answer is late enough for the second hand-over to start
                        successor.send(new Message.Adopted(List.of()));
                        batches++;
                    }
                    return batches;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, THREADS);
            CompletableFuture<List<Connection>> first = CompletableFuture.supplyAsync(
                    () -> takeover.handOver(List.of(new Connection("echo", takenOver.accepted()))), THREADS);
            assertTrue(firstBatchArrived.await(10, TimeUnit.SECONDS));
            assertTrue(takeover.successorAdoptsConnections(), "a batch awaiting its answer is no reason to stop");
            assertEquals(List.of(), takeover.handOver(List.of(new Connection("echo", second))));
            assertEquals(List.of(), first.get(10, TimeUnit.SECONDS));
            assertEquals(2, answers.get(10, TimeUnit.SECONDS));
            assertEquals(2, takeover.connectionsHandedOver());
        }
    }

    @Test
    void anAnswerLaterThanTheStepTimeoutFailsOnTheSuccessorsSideAndTheIncumbentKeepsTheConnection() throws Exception {
        try (TakenOver takenOver = takenOverByRawSuccessor(Duration.ofSeconds(1))) {
            Takeover takeover = takenOver.takeover();
            SocketChannel accepted = takenOver.accepted();
            WireChannel successor = takenOver.successor();
            CompletableFuture<Boolean> lateAnswer = CompletableFuture.supplyAsync(() -> {
                try (WireChannel.Received<Message> batch = successor.receive(Duration.ofSeconds(10), Message.Connections.class)) {
                    Thread.sleep(2_500); // a stalled successor: well past the incumbent's step timeout
                    successor.send(new Message.Adopted(List.of()));
                    return true;
                } catch (IOException e) {
                    return false;
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    close(successor);
                }
            }, THREADS);
            Connection connection = new Connection("echo", accepted);
            assertEquals(List.of(connection), takeover.handOver(List.of(connection)), "the incumbent keeps it");
            assertFalse(lateAnswer.get(10, TimeUnit.SECONDS), "the late answer must fail on the successor's side, "
                    + "or both would think they own the connection");
            assertEchoesThroughIncumbent(takenOver.client(), accepted);
            // The successor is slow, not gone: it still serves the listeners, so this process must not.
            assertFalse(takeover.isSuccessorLost());
            assertFalse(takeover.resume(), "resuming would leave two processes accepting");
            assertFalse(takeover.successorAdoptsConnections(), "detached: nothing more moves");
        }
    }

    @Test
    void eachBadEntryIsRefusedAloneAndTheGoodOneIsAdopted() throws Exception {
        Path socketPath = temp.resolve("run").resolve("h.sock");
        Path file = Files.writeString(temp.resolve("not-a-socket"), "x");
        try (FdServer server = FdServer.bind(socketPath, FdLimits.DEFAULT);
             ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             Socket good = new Socket();
             Socket other = new Socket();
             FileInputStream notASocket = new FileInputStream(file.toFile())) {
            good.connect(listener.getLocalAddress());
            other.connect(listener.getLocalAddress());
            SocketChannel goodServerSide = listener.accept();
            SocketChannel otherServerSide = listener.accept();
            CompletableFuture<FdChannel> accept = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, THREADS);
            BlockingQueue<Connection> adopted = new LinkedBlockingQueue<>();
            CompletableFuture<Handoff> successorStart = CompletableFuture.supplyAsync(() -> {
                try {
                    Handoff successor = Handoff.start(HandoffOptions.builder(socketPath).build());
                    successor.onConnection(adopted::add);
                    return successor;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, THREADS);
            try (WireChannel incumbent = new WireChannel(accept.get(10, TimeUnit.SECONDS))) {
                incumbent.receive(Duration.ofSeconds(10), Message.Hello.class).close();
                incumbent.send(new Message.Welcome(ProtocolVersions.SUPPORTED.get(0), ProcessHandle.current().pid(), 1,
                        FdChannel.maxFdsPerMessage(), List.of()));
                incumbent.send(new Message.Handover(ManifestJson.toTree(new Manifest(Manifest.SCHEMA, 1, 1, List.of(), List.of(), null))));
                try (Handoff successor = successorStart.get(10, TimeUnit.SECONDS)) {
                    CompletableFuture<Void> ready = CompletableFuture.runAsync(() -> {
                        try {
                            successor.ready();
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    }, THREADS);
                    try (WireChannel.Received<Message> answer = incumbent.receive(Duration.ofSeconds(10), Message.Ready.class)) {
                        assertTrue(((Message.Ready) answer.message()).capabilities().contains(Message.CONNECTIONS));
                    }
                    ready.get(10, TimeUnit.SECONDS);
                    InetSocketAddress local = (InetSocketAddress) goodServerSide.getLocalAddress();
                    InetSocketAddress goodRemote = (InetSocketAddress) goodServerSide.getRemoteAddress();
                    InetSocketAddress otherRemote = (InetSocketAddress) otherServerSide.getRemoteAddress();
                    List<ConnectionEntry> entries = List.of(
                            entry(0, local, goodRemote),
                            entry(1, local, goodRemote),   // says it is the good client, but is the other one
                            entry(2, local, otherRemote),  // a regular file
                            entry(0, local, goodRemote),   // the good descriptor again
                            entry(7, local, otherRemote)); // no such descriptor
                    incumbent.send(new Message.Connections(ManifestJson.connectionsToTree(entries)), List.of(
                            Channels.fileDescriptor(goodServerSide), Channels.fileDescriptor(otherServerSide),
                            notASocket.getFD()));
                    Message.Adopted answer;
                    try (WireChannel.Received<Message> received = incumbent.receive(Duration.ofSeconds(10), Message.Adopted.class)) {
                        answer = (Message.Adopted) received.message();
                    }
                    assertEquals(List.of(1, 2, 3, 4), answer.rejected().stream().map(Message.Rejection::index).toList());
                    assertTrue(answer.rejected().get(0).reason().contains("is really"), answer.rejected().get(0).reason());
                    assertTrue(answer.rejected().get(1).reason().contains("should be a TCP_CONNECTION"), answer.rejected().get(1).reason());
                    assertTrue(answer.rejected().get(2).reason().contains("named twice"), answer.rejected().get(2).reason());
                    assertTrue(answer.rejected().get(3).reason().contains("no file descriptor 7"), answer.rejected().get(3).reason());
                    Connection connection = adopted.poll(10, TimeUnit.SECONDS);
                    assertNotNull(connection);
                    assertEquals(goodRemote, connection.channel().getRemoteAddress());
                    connection.channel().close();
                    assertTrue(adopted.isEmpty());
                    // The refused connection is still whole on this side.
                    other.setSoTimeout(10_000);
                    assertEchoesThroughIncumbent(other, otherServerSide);
                    // The right peer on the wrong local address: refused once its channel has read the real one,
                    // and only the successor's copy closed.
                    assertRefusedAlone(incumbent, ManifestJson.connectionsToTree(List.of(
                            entry(0, new InetSocketAddress("127.0.0.2", local.getPort()), otherRemote))),
                            otherServerSide, "is really local to");
                    assertEchoesThroughIncumbent(other, otherServerSide);
                    // A batch that cannot be read at all: every descriptor in it is refused, and closed there.
                    assertRefusedAlone(incumbent, JSON.readTree("[[\"echo\", \"zero\"]]"), otherServerSide,
                            "expected an array of 8 values");
                    assertEchoesThroughIncumbent(other, otherServerSide);
                    incumbent.send(new Message.Goodbye("done"));
                    assertTrue(successor.predecessorFinished(Duration.ofSeconds(10)), "goodbye ends the reception");
                }
            }
        }
    }

    /** Sends {@code connection} alone as a batch and expects it refused, for a reason that contains {@code why}. */
    private static void assertRefusedAlone(WireChannel incumbent, JsonNode batch, SocketChannel connection, String why)
            throws IOException {
        incumbent.send(new Message.Connections(batch), List.of(Channels.fileDescriptor(connection)));
        try (WireChannel.Received<Message> received = incumbent.receive(Duration.ofSeconds(10), Message.Adopted.class)) {
            Message.Adopted answer = (Message.Adopted) received.message();
            assertEquals(1, answer.rejected().size());
            assertTrue(answer.rejected().get(0).reason().contains(why), answer.rejected().get(0).reason());
        }
    }

    @Test
    void theBatchCodecRoundTripsAndNamesWhatIsWrong() throws Exception {
        ConnectionEntry entry = new ConnectionEntry("http", 3, "127.0.0.1", 80, "::1", 5000,
                JSON.createObjectNode().put("served", 7), new byte[] {0, 1, (byte) 255});
        ConnectionEntry back = ManifestJson.connectionsFromTree(ManifestJson.connectionsToTree(List.of(entry))).get(0);
        assertEquals(List.of(entry.listener(), entry.fd(), entry.localAddress(), entry.localPort(), entry.remoteAddress(),
                entry.remotePort(), entry.attachment()), List.of(back.listener(), back.fd(), back.localAddress(),
                back.localPort(), back.remoteAddress(), back.remotePort(), back.attachment()));
        assertEquals(List.of((byte) 0, (byte) 1, (byte) 255), List.of(back.unread()[0], back.unread()[1], back.unread()[2]));
        for (String bad : List.of("{\"a\": 1}", "[{\"listener\": \"http\"}]", "[[\"http\", 1, \"a\", 2, \"b\", 3, null]]",
                "[[\"http\", \"1\", \"a\", 2, \"b\", 3, null, null]]", "[[\"http\", 1, \"a\", 2, \"b\", 3, null, \"%%%\"]]")) {
            dev.handoff.core.manifest.InvalidManifestException e = assertThrows(
                    dev.handoff.core.manifest.InvalidManifestException.class, () -> ManifestJson.connectionsFromTree(JSON.readTree(bad)));
            assertTrue(e.getMessage().contains("connection"), e.getMessage());
        }
    }

    private static ConnectionEntry entry(int fd, InetSocketAddress local, InetSocketAddress remote) {
        return new ConnectionEntry("echo", fd, local.getAddress().getHostAddress(), local.getPort(),
                remote.getAddress().getHostAddress(), remote.getPort(), null, null);
    }

    /** An incumbent with one client connection, taken over by a hand-written successor that adopts connections. */
    /** A raw successor: its channel, and its lifeline, which it ends when it "dies". */
    private record RawPeer(WireChannel wire, Lifeline lifeline) implements java.io.Closeable {
        @Override
        public void close() throws IOException {
            try (lifeline) {
                wire.close();
            }
        }
    }

    private record TakenOver(Handoff incumbent, Takeover takeover, Socket client, ServerSocketChannel listener,
                             SocketChannel accepted, RawPeer peer) implements AutoCloseable {
        WireChannel successor() {
            return peer.wire();
        }

        @Override
        public void close() throws IOException {
            try (incumbent; client) {
                peer.close();
            }
        }
    }

    private TakenOver takenOverByRawSuccessor(Duration stepTimeout) throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("h.sock"))
                .probation(Duration.ZERO).stepTimeout(stepTimeout).build();
        Handoff incumbent = Handoff.start(options);
        Socket client = new Socket();
        ServerSocketChannel listener = incumbent.listen("echo", new InetSocketAddress("127.0.0.1", 0));
        incumbent.ready();
        client.connect(listener.getLocalAddress());
        client.setSoTimeout(10_000);
        SocketChannel accepted = listener.accept();
        RawPeer successor = rawSuccessorAtReady(options.socketPath());
        Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(10)).orElseThrow();
        return new TakenOver(incumbent, takeover, client, listener, accepted, successor);
    }

    private static RawPeer rawSuccessorAtReady(Path socket) throws IOException {
        WireChannel wire = new WireChannel(FdChannel.connect(socket, FdLimits.DEFAULT));
        Lifeline lifeline = Lifeline.create();
        wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(), FdChannel.maxFdsPerMessage(),
                List.of(Message.LIFELINE), null, 0), List.of(lifeline.peerEnd()));
        wire.receive(Duration.ofSeconds(10), Message.Welcome.class).close();
        wire.receive(Duration.ofSeconds(10), Message.Handover.class).close();
        wire.send(new Message.Ready(ProcessHandle.current().pid(), List.of(Message.CONNECTIONS)));
        wire.receive(Duration.ofSeconds(10), Message.Confirmed.class).close();
        return new RawPeer(wire, lifeline);
    }

    /** The connection still carries data both ways on the incumbent's side, and was never shut down. */
    private static void assertEchoesThroughIncumbent(Socket client, SocketChannel serverSide) throws IOException {
        serverSide.configureBlocking(true);
        client.getOutputStream().write("still here\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("still here", readLine(serverSide));
        serverSide.write(ByteBuffer.wrap("yes\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("yes", new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII)).readLine());
    }

    private static String readLine(SocketChannel channel) throws IOException {
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (channel.read(one) < 0) {
                throw new IOException("end of stream after '" + line + "'");
            }
            if (one.position() == 0) {
                continue;
            }
            char c = (char) one.get(0);
            if (c == '\n') {
                return line.toString();
            }
            line.append(c);
        }
    }

    private static void close(java.io.Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }
}
