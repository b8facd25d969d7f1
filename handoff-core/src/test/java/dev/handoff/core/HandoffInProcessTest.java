package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.handoff.core.fd.FdType;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdChannelException;
import dev.handoff.core.fd.FdChannelPair;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.manifest.FileEntry;
import dev.handoff.core.manifest.InvalidManifestException;
import dev.handoff.core.manifest.ListenerEntry;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.internal.JdkInternals;
import dev.handoff.core.testing.FileSenderChild;
import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.OpenFds;
import dev.handoff.core.testing.StartChild;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both sides of a handoff in this process (two Handoff objects), and the protocol's failure paths. */
@Timeout(120)
class HandoffInProcessTest {

    @TempDir
    Path temp;

    @Test
    void listenersFilesAndStateTravelAndUnclaimedDescriptorsAreClosed() throws Exception {
        // The first round may open one-time descriptors of the JDK's; the second must leave none behind.
        handOverOnce(temp.resolve("first"));
        OpenFds before = OpenFds.snapshot();
        handOverOnce(temp.resolve("second"));
        before.assertNoLeak();
    }

    private void handOverOnce(Path directory) throws Exception {
        Files.createDirectories(directory);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        HandoffOptions options = HandoffOptions.builder(directory.resolve("run").resolve("h.sock"))
                .probation(Duration.ZERO).meterRegistry(registry).build();
        Path file = directory.resolve("shared.log");
        try (Handoff incumbent = Handoff.start(options);
             FileOutputStream log = new FileOutputStream(file.toFile())) {
            assertFalse(incumbent.isInherited());
            ServerSocketChannel http = incumbent.listen("http", new InetSocketAddress("127.0.0.1", 0));
            ServerSocketChannel old = incumbent.listen("retired", new InetSocketAddress("127.0.0.1", 0));
            incumbent.shareFile("log", log.getFD());
            ObjectNode state = new ObjectMapper().createObjectNode().put("sessions", 42);
            incumbent.stateProvider(() -> state);
            incumbent.ready();

            try (Handoff successor = Handoff.start(options)) {
                assertEquals(2, successor.generation());
                assertEquals(42, successor.inheritedState().orElseThrow().get("sessions").asInt());
                ServerSocketChannel inherited = successor.listen("http", (InetSocketAddress) http.getLocalAddress());
                assertEquals(http.getLocalAddress(), inherited.getLocalAddress());
                FileDescriptor logFd = successor.inheritedFile("log").orElseThrow();
                try (FileOutputStream writer = new FileOutputStream(logFd)) {
                    writer.write("written by the successor".getBytes(StandardCharsets.UTF_8));
                }
                successor.ready();
                assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent());
                assertTrue(incumbent.lastHandoff().orElseThrow().succeeded());
                InetSocketAddress retired = (InetSocketAddress) old.getLocalAddress();
                old.close();
                // Had the successor kept the unclaimed copy, the kernel would still accept on that port.
                assertThrows(java.net.ConnectException.class, () -> new java.net.Socket(retired.getAddress(), retired.getPort()).close());
                http.close();
                inherited.close();
            }
        }
        assertEquals("written by the successor", Files.readString(file));
        assertEquals(1.0, registry.get("handoff.handoffs").tag("role", "incumbent").tag("outcome", "succeeded").counter().count());
        assertEquals(1.0, registry.get("handoff.handoffs").tag("role", "successor").tag("outcome", "succeeded").counter().count());
    }

    /**
     * Supervisors and container tests wait for the READY line, then read the pid file: by then it must name
     * the process that said READY, on a cold start and after a handoff (the file is removed in between).
     */
    @Test
    void theReadyLineComesOnlyOnceThePidFileNamesTheProcessThatSaysIt() throws Exception {
        Path pidFile = temp.resolve("app.pid");
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("r.sock"))
                .probation(Duration.ZERO).pidFile(pidFile).build();
        String pid = Long.toString(ProcessHandle.current().pid());
        List<String> pidAtReady = new CopyOnWriteArrayList<>();
        PrintStream err = System.err;
        System.setErr(new PrintStream(new LineTap(err, line -> {
            if (line.contains("READY generation")) {
                pidAtReady.add(Files.exists(pidFile) ? readQuietly(pidFile).trim() : "no pid file");
            }
        }), true));
        try (Handoff incumbent = Handoff.start(options)) {
            incumbent.ready();
            Files.delete(pidFile);
            try (Handoff successor = Handoff.start(options)) {
                successor.ready();
                assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent());
            }
        } finally {
            System.setErr(err);
        }
        assertEquals(List.of(pid, pid), pidAtReady, "what the pid file held as each READY line was written");
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** Passes bytes through to {@code out} and each whole line, as it ends, to {@code lines}. */
    private static final class LineTap extends OutputStream {
        private final OutputStream out;
        private final Consumer<String> lines;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        LineTap(OutputStream out, Consumer<String> lines) {
            this.out = out;
            this.lines = lines;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            out.write(b);
            if (b == '\n') {
                lines.accept(line.toString(StandardCharsets.UTF_8));
                line.reset();
            } else {
                line.write(b);
            }
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }
    }

    @Test
    void theHandoffsTimeRunsFromConnectToReadyAndLeavesProbationOut() throws Exception {
        Duration probation = Duration.ofSeconds(3);
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("p.sock")).probation(probation).build();
        try (Handoff incumbent = Handoff.start(options)) {
            incumbent.ready();
            try (Handoff successor = Handoff.start(options)) {
                successor.ready();
                Takeover takeover = incumbent.awaitExit(Duration.ofSeconds(30)).orElseThrow();
                // The takeover comes only after probation; the time it reports is the handoff's own.
                assertTrue(takeover.handoff().duration().compareTo(probation) < 0, takeover.handoff().toString());
                assertEquals(takeover.handoff(), incumbent.lastHandoff().orElseThrow());
            }
        }
    }

    @Test
    void aWelcomeThatAllowsNoDescriptorsIsAClearFailureNotARuntimeExceptionAndNothingLeaks() throws Exception {
        OpenFds before = OpenFds.snapshot();
        Path socket = temp.resolve("run").resolve("odd.sock");
        try (FdServer server = FdServer.bind(socket, FdLimits.DEFAULT)) {
            CompletableFuture<Void> incumbent = CompletableFuture.runAsync(() -> {
                try (WireChannel wire = new WireChannel(server.accept())) {
                    wire.receive(Duration.ofSeconds(10), Message.Hello.class).close();
                    wire.send(new Message.Welcome(1, 1, 1, 0, List.of()));
                    wire.fdChannel().receive(Duration.ofSeconds(10)).close(); // until the successor hangs up
                } catch (IOException e) {
                    // the successor hung up: expected
                }
            });
            IOException e = assertThrows(IOException.class, () -> Handoff.start(HandoffOptions.builder(socket).build()));
            assertTrue(e.getMessage().contains("AWAIT_WELCOME"), e.getMessage());
            incumbent.get(10, TimeUnit.SECONDS);
        }
        before.assertNoLeak();
    }

    @Test
    void aRegularFileWhereAListenerWasPromisedIsRejectedAndNothingLeaks() throws Exception {
        Path file = Files.writeString(temp.resolve("not-a-socket"), "x");
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            Manifest manifest = new Manifest(Manifest.SCHEMA, 1, 1,
                    List.of(new ListenerEntry("http", ListenerEntry.Protocol.TCP, "INET", "127.0.0.1", 8080, 0, Map.of())),
                    List.of(), null);
            Message.Failed failed = rejectedByHandoffStart(ManifestJson.toTree(manifest), List.of(in.getFD()),
                    "should be a TCP_LISTENER");
            assertTrue(failed.reason().contains("should be a TCP_LISTENER"), failed.reason());
        }
    }

    @Test
    void aDescriptorCountThatDiffersFromTheManifestIsRejected() throws Exception {
        Path file = Files.writeString(temp.resolve("f"), "x");
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            Manifest manifest = new Manifest(Manifest.SCHEMA, 1, 1, List.of(),
                    List.of(new FileEntry("a", FdType.FILE, 0), new FileEntry("b", FdType.FILE, 1)), null);
            rejectedByHandoffStart(ManifestJson.toTree(manifest), List.of(in.getFD()), "2 file descriptors but 1 arrived");
        }
    }

    @Test
    void duplicateNamesMoreDescriptorsThanEntriesAndAnotherSchemaAreEachRejected() throws Exception {
        Path file = Files.writeString(temp.resolve("f"), "x");
        try (FileInputStream in = new FileInputStream(file.toFile());
             FileInputStream again = new FileInputStream(file.toFile())) {
            Manifest twice = new Manifest(Manifest.SCHEMA, 1, 1, List.of(),
                    List.of(new FileEntry("a", FdType.FILE, 0), new FileEntry("a", FdType.FILE, 1)), null);
            rejectedByHandoffStart(ManifestJson.toTree(twice), List.of(in.getFD(), again.getFD()), "name 'a' is used twice");
            Manifest one = new Manifest(Manifest.SCHEMA, 1, 1, List.of(), List.of(new FileEntry("a", FdType.FILE, 0)), null);
            rejectedByHandoffStart(ManifestJson.toTree(one), List.of(in.getFD(), again.getFD()),
                    "1 file descriptors but 2 arrived");
            Manifest future = new Manifest(Manifest.SCHEMA + 1, 1, 1, List.of(), List.of(new FileEntry("a", FdType.FILE, 0)), null);
            rejectedByHandoffStart(ManifestJson.toTree(future), List.of(in.getFD()), "unsupported manifest schema");
        }
    }

    @Test
    void aManifestThatIsNotAManifestIsRejected() throws Exception {
        Path file = Files.writeString(temp.resolve("f"), "x");
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            ObjectNode garbage = new ObjectMapper().createObjectNode().put("schema", "one").put("listeners", "none");
            rejectedByHandoffStart(garbage, List.of(in.getFD()), "unreadable manifest");
        }
    }

    /** Plays the incumbent by hand; Handoff.start must refuse the manifest, tell us, and leak nothing. */
    private Message.Failed rejectedByHandoffStart(JsonNode manifest, List<FileDescriptor> fds, String expected)
            throws Exception {
        OpenFds before = OpenFds.snapshot();
        Path socket = temp.resolve("run").resolve("fake.sock");
        try (FdServer server = FdServer.bind(socket, FdLimits.DEFAULT)) {
            CompletableFuture<Message> incumbent = CompletableFuture.supplyAsync(() -> {
                try (WireChannel wire = new WireChannel(server.accept())) {
                    wire.receive(Duration.ofSeconds(10), Message.Hello.class).close();
                    wire.send(new Message.Welcome(1, 1, 1, FdChannel.maxFdsPerMessage(), List.of()));
                    wire.send(new Message.Handover(manifest), fds);
                    try (WireChannel.Received<Message> answer = wire.receive(Duration.ofSeconds(10), Message.Failed.class)) {
                        return answer.message();
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            InvalidManifestException e = assertThrows(InvalidManifestException.class,
                    () -> Handoff.start(HandoffOptions.builder(socket).build()));
            assertTrue(e.getMessage().contains(expected), e.getMessage());
            Message.Failed failed = assertInstanceOf(Message.Failed.class, incumbent.get(10, TimeUnit.SECONDS));
            server.close();
            before.assertNoLeak();
            return failed;
        }
    }

    @Test
    void aFileOpenedByAChildIsReadByItsParentOverASocketPath() throws Exception {
        Path file = Files.writeString(temp.resolve("child.txt"), "content the parent cannot open itself");
        try (FdServer server = FdServer.bind(temp.resolve("run").resolve("child.sock"), FdLimits.DEFAULT);
             JavaChild child = JavaChild.start(FileSenderChild.class, file.toString(), server.path().toString());
             FdChannel channel = server.accept()) {
            assertEquals(child.pid(), channel.peer().pid());
            readFileSentByChild(channel, file, child);
        }
    }

    @Test
    void aFileOpenedByAChildIsReadByItsParentOverAnInheritedSocketPair() throws Exception {
        Path file = Files.writeString(temp.resolve("child.txt"), "content the parent cannot open itself");
        try (FdChannelPair pair = FdChannel.pair(FdLimits.DEFAULT)) {
            ProcessBuilder builder = new ProcessBuilder(JavaChild.command(FileSenderChild.class, file.toString(), "stdin"))
                    .redirectInput(pair.childStdin());
            try (JavaChild child = JavaChild.start(builder)) {
                pair.childStarted();
                readFileSentByChild(pair.parent(), file, child);
                // The parent let go of the child's end, so the child's exit is an end of stream here.
                FdChannelException closed = assertThrows(FdChannelException.class,
                        () -> pair.parent().receive(Duration.ofSeconds(10)));
                assertEquals(FdChannelException.Kind.CLOSED, closed.kind());
            }
        }
    }

    /** The child sends one open file; the parent reads it after the file is gone from the directory. */
    private static void readFileSentByChild(FdChannel channel, Path file, JavaChild child) throws Exception {
        try (FdMessage message = channel.receive(Duration.ofSeconds(60))) {
            Files.delete(file); // only the child's open descriptor still reaches the content
            try (FileInputStream in = new FileInputStream(message.take(0))) {
                assertEquals("opened by the child", new String(message.payload(), StandardCharsets.UTF_8));
                assertEquals("content the parent cannot open itself", new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
        channel.send(new byte[]{1});
        assertEquals(0, child.awaitExit(Duration.ofSeconds(30)));
    }

    @Test
    void anUpgradeWhoseSuccessorExitsEarlyIsReportedAndTheIncumbentKeepsServing() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("u.sock"))
                .upgradeCommand(List.of("sh", "-c", "exit 7")).build();
        try (Handoff incumbent = Handoff.start(options);
             ServerSocketChannel http = incumbent.listen("http", new InetSocketAddress("127.0.0.1", 0))) {
            incumbent.ready();
            HandoffResult result = incumbent.upgrade();
            assertEquals(HandoffResult.Outcome.FAILED, result.outcome());
            assertTrue(result.reason().contains("exited with status 7"), result.reason());
            assertTrue(incumbent.awaitExit(Duration.ZERO).isEmpty());
            try (java.net.Socket client = new java.net.Socket()) {
                client.connect(http.getLocalAddress(), 5000); // still listening
            }
        }
    }

    @Test
    void anOptionValueTheBuilderDoesNotTakeNamesItsOption() {
        HandoffOptions.Builder builder = HandoffOptions.builder(temp.resolve("run").resolve("o.sock"));
        InvalidOptionException nice = assertThrows(InvalidOptionException.class, () -> builder.startupNice(20));
        assertEquals("startupNice", nice.option());
        assertEquals("startupNice must be between 0 and 19", nice.getMessage());
        InvalidOptionException drain = assertThrows(InvalidOptionException.class, () -> builder.drainTimeout(Duration.ZERO));
        assertEquals("drainTimeout", drain.option());
        assertEquals("allowedPeerUids",
                assertThrows(InvalidOptionException.class, () -> builder.allowedPeerUids(Set.of())).option());
    }

    @Test
    void aRendezvousDirectoryOthersMayEnterFailsAColdStartBeforeAnythingIsBound() throws Exception {
        Path open = Files.createDirectories(temp.resolve("open"));
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        OpenFds before = OpenFds.snapshot();
        RendezvousPathException refused = assertThrows(RendezvousPathException.class,
                () -> Handoff.start(HandoffOptions.builder(open.resolve("x.sock")).build()));
        assertEquals(open, refused.directory());
        assertEquals(RendezvousPathException.Problem.DIRECTORY, refused.problem());
        assertTrue(refused.getMessage().contains("has mode rwxr-xr-x") && refused.getMessage().contains("chmod 700"),
                refused.getMessage());
        try (var left = Files.list(open)) {
            assertEquals(List.of(), left.toList(), "nothing bound in a directory others may enter");
        }
        before.assertNoLeak();
    }

    @Test
    void aSocketPathWhosePrivateNameWouldNotFitAUnixAddressFailsTheStartBeforeAnythingIsBound() throws Exception {
        Path deep = Files.createDirectories(temp.resolve("d".repeat(89 - temp.toString().length()))); // 90 bytes
        Files.setPosixFilePermissions(deep, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Path socket = deep.resolve("h.sock"); // 107 bytes at most itself: a client could connect to it
        assertTrue(socket.toString().length() <= 107, socket.toString());
        OpenFds before = OpenFds.snapshot();
        RendezvousPathException refused = assertThrows(RendezvousPathException.class,
                () -> Handoff.start(HandoffOptions.builder(socket).build()));
        assertEquals(RendezvousPathException.Problem.TOO_LONG, refused.problem());
        assertTrue(refused.getMessage().contains("is too long") && refused.getMessage().contains("107"), refused.getMessage());
        try (var left = Files.list(deep)) {
            assertEquals(List.of(), left.toList());
        }
        before.assertNoLeak();

        // The longest path that fits binds and serves.
        Path fits = deep.resolveSibling("e".repeat(deep.getFileName().toString().length()
                - (FdServer.boundAddressBytes(socket) - FdServer.MAX_ADDRESS_BYTES))).resolve("h.sock");
        assertEquals(FdServer.MAX_ADDRESS_BYTES, FdServer.boundAddressBytes(fits));
        try (Handoff handoff = Handoff.start(HandoffOptions.builder(fits).build())) {
            handoff.ready();
            assertTrue(FdServer.isLive(fits));
        }
    }

    @Test
    void withoutTheAddOpensFlagsStartFailsWithAJvmAccessExceptionThatNamesThem() throws Exception {
        List<String> flags = List.of("-Xshare:auto");
        try (JavaChild child = JavaChild.start(new ProcessBuilder(
                JavaChild.command(flags, StartChild.class, temp.resolve("run").resolve("x.sock").toString())))) {
            String line = child.awaitLine("ERROR", Duration.ofSeconds(60));
            assertTrue(line.startsWith("ERROR JvmAccessException: "), line);
            assertTrue(line.contains("--add-opens java.base/sun.nio.ch=ALL-UNNAMED"), line);
            assertTrue(line.contains(JdkInternals.REQUIRED_FLAGS), line);
        }
    }

    @Test
    void aLivenessProbeIsNoHandoffAndASuccessorRightBehindItTakesOver() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("probe.sock"))
                .probation(Duration.ZERO).build();
        List<HandoffResult> results = new CopyOnWriteArrayList<>();
        try (Handoff incumbent = Handoff.start(options)) {
            incumbent.onHandoff(results::add);
            incumbent.ready();
            for (int i = 0; i < 20; i++) {
                assertTrue(FdServer.isLive(options.socketPath()));
            }
            // A successor right behind the probes finds the slot free: a probe never takes it.
            try (Handoff successor = Handoff.start(options)) {
                assertTrue(successor.isInherited());
                successor.ready();
                assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent());
            }
            assertEquals(1, results.size(), "only the real handoff is recorded: " + results);
            assertTrue(results.get(0).succeeded(), results.toString());
        }
    }

    @Test
    void anOnHandoffCallbackThatThrowsKeepsNeitherTheOthersNorOnExitFromRunning() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("cb.sock"))
                .probation(Duration.ZERO).build();
        List<String> calls = new CopyOnWriteArrayList<>();
        try (Handoff incumbent = Handoff.start(options)) {
            incumbent.onHandoff(result -> {
                calls.add("handoff-1");
                throw new AssertionError("an application's broken callback");
            });
            incumbent.onHandoff(result -> calls.add("handoff-2"));
            incumbent.onExit(takeover -> {
                calls.add("exit-1");
                throw new IllegalStateException("another broken one");
            });
            incumbent.onExit(takeover -> calls.add("exit-2"));
            incumbent.ready();
            try (Handoff successor = Handoff.start(options)) {
                successor.ready();
                assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent());
                // Registered once the takeover happened: runs at once, and once.
                incumbent.onExit(takeover -> calls.add("exit-late"));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (calls.size() < 5 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                // Every callback once; onHandoff before onExit; those registered before, in their order (the late
                // one runs on the registering thread, whenever that is).
                assertEquals(List.of("handoff-1", "handoff-2", "exit-1", "exit-2"),
                        calls.stream().filter(call -> !call.equals("exit-late")).toList(), calls.toString());
                assertEquals(1, calls.stream().filter(call -> call.equals("exit-late")).count(), calls.toString());
                assertTrue(calls.indexOf("exit-late") > calls.indexOf("handoff-2"), calls.toString());
            }
        }
    }

    @Test
    void onExitRegisteredWhileTheTakeoverHappensRunsExactlyOnce() throws Exception {
        for (int round = 0; round < 10; round++) {
            HandoffOptions options = HandoffOptions.builder(temp.resolve("r" + round).resolve("h.sock"))
                    .probation(Duration.ZERO).build();
            java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
            try (Handoff incumbent = Handoff.start(options)) {
                incumbent.ready();
                try (Handoff successor = Handoff.start(options)) {
                    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                    CompletableFuture<Void> register = CompletableFuture.runAsync(() -> {
                        awaitQuietly(go);
                        incumbent.onExit(takeover -> runs.incrementAndGet());
                    });
                    go.countDown();
                    successor.ready(); // the takeover happens while the callback is being registered
                    register.get(10, TimeUnit.SECONDS);
                    assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent());
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (runs.get() == 0 && System.nanoTime() < deadline) {
                        Thread.sleep(5);
                    }
                    Thread.sleep(50); // a second run, were there one, would come right after the first
                    assertEquals(1, runs.get(), "round " + round);
                }
            }
        }
    }

    private static void awaitQuietly(java.util.concurrent.CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aUdpSocketIsHandedOverWhileAClientSendsAndEveryDatagramArrivesOnceOnOneSide() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("udp.sock"))
                .probation(Duration.ZERO).build();
        int total = 400;
        java.util.Set<Integer> atIncumbent = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.Set<Integer> atSuccessor = java.util.concurrent.ConcurrentHashMap.newKeySet();
        List<Integer> duplicates = new CopyOnWriteArrayList<>();
        try (Handoff incumbent = Handoff.start(options)) {
            java.nio.channels.DatagramChannel udp = incumbent.listenDatagram("udp", new InetSocketAddress("127.0.0.1", 0));
            incumbent.ready();
            Thread incumbentReceiver = receiver(udp, atIncumbent, atSuccessor, duplicates);
            java.net.SocketAddress target = udp.getLocalAddress();
            CompletableFuture<Void> client = CompletableFuture.runAsync(() -> {
                try (java.nio.channels.DatagramChannel sender = java.nio.channels.DatagramChannel.open()) {
                    for (int i = 0; i < total; i++) {
                        sender.send(java.nio.ByteBuffer.allocate(4).putInt(0, i), target);
                        Thread.sleep(5);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            while (atIncumbent.size() < total / 4) {
                Thread.sleep(5);
            }
            try (Handoff successor = Handoff.start(options)) {
                java.nio.channels.DatagramChannel inherited = successor.listenDatagram("udp",
                        (InetSocketAddress) udp.getLocalAddress());
                assertEquals(udp.getLocalAddress(), inherited.getLocalAddress());
                Thread successorReceiver = receiver(inherited, atSuccessor, atIncumbent, duplicates);
                successor.ready();
                assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent());
                udp.close(); // the incumbent stops receiving; what is queued stays in the socket, for the successor
                incumbentReceiver.join(10_000);
                client.get(30, TimeUnit.SECONDS);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (atIncumbent.size() + atSuccessor.size() < total && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                inherited.close();
                successorReceiver.join(10_000);
            }
        }
        assertEquals(List.of(), duplicates, "no datagram arrives twice");
        assertEquals(total, atIncumbent.size() + atSuccessor.size(), "every datagram arrives (loopback drops none)");
        assertTrue(atSuccessor.size() > total / 4, "the successor received the later ones: " + atSuccessor.size());
    }

    /** Receives numbered datagrams into {@code mine} until the channel closes; any number seen anywhere before is a duplicate. */
    private static Thread receiver(java.nio.channels.DatagramChannel channel, java.util.Set<Integer> mine,
                                   java.util.Set<Integer> theirs, List<Integer> duplicates) {
        Thread thread = new Thread(() -> {
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate(16);
            try {
                while (true) {
                    buffer.clear();
                    channel.receive(buffer);
                    int number = buffer.getInt(0);
                    if (theirs.contains(number) || !mine.add(number)) {
                        duplicates.add(number);
                    }
                }
            } catch (IOException closed) {
                // the channel was closed: this side is done
            }
        }, "udp-receiver");
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    @Test
    void aSuccessorOfAnOlderReleaseThatSpeaksOnlyVersion1StillTakesOverWithoutConfirmation() throws Exception {
        HandoffOptions options = HandoffOptions.builder(temp.resolve("run").resolve("v1.sock"))
                .probation(Duration.ZERO).build();
        try (Handoff incumbent = Handoff.start(options)) {
            incumbent.listen("http", new InetSocketAddress("127.0.0.1", 0));
            incumbent.ready();
            try (WireChannel old = new WireChannel(FdChannel.connect(options.socketPath(), FdLimits.DEFAULT))) {
                // What a version 1 successor sends: no lifeline, no message limit.
                old.send(new Message.Hello(List.of(1), ProcessHandle.current().pid(), FdChannel.maxFdsPerMessage(), List.of()));
                try (WireChannel.Received<Message> welcome = old.receive(Duration.ofSeconds(10), Message.Welcome.class)) {
                    assertEquals(1, ((Message.Welcome) welcome.message()).version());
                    assertEquals(0, welcome.fds().fdCount(), "no lifeline for a peer that would not know it");
                }
                old.receive(Duration.ofSeconds(10), Message.Handover.class).close();
                old.send(new Message.Ready(ProcessHandle.current().pid(), List.of()));
                assertTrue(incumbent.awaitExit(Duration.ofSeconds(10)).isPresent(), "version 1: READY is the takeover");
                // Nothing but the goodbye follows: no confirmation the old successor could not read.
                incumbent.close();
                assertInstanceOf(Message.Goodbye.class,
                        old.receive(Duration.ofSeconds(10), Message.Goodbye.class).message());
            }
        }
    }

    @Test
    void protocolVersionsNegotiateToTheHighestCommonOne() {
        assertEquals(2, ProtocolVersions.negotiate(List.of(1, 2, 3)).getAsInt());
        assertEquals(1, ProtocolVersions.negotiate(List.of(1)).getAsInt(), "an older release that speaks only 1");
        assertEquals(2, ProtocolVersions.negotiate(List.of(2, 1)).getAsInt(), "order does not matter");
        assertTrue(ProtocolVersions.negotiate(List.of(99)).isEmpty());
    }
}
