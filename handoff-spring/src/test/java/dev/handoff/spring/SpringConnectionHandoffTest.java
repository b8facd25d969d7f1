package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.Response;
import dev.handoff.spring.app.TestApp;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static dev.handoff.spring.TestAppProcess.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keep-alive connections of a real Spring Boot application move to each successor: the clients (raw
 * sockets that never reconnect or retry) see every generation answer on the same connection, and the old
 * generation exits once its connections have moved, long before its drain timeout.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SpringConnectionHandoffTest {

    private static final Pattern PID = Pattern.compile("\"pid\":(\\d+)");
    private static final String GET = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void idleConnectionsMoveToEachSuccessorAndNoneIsClosed(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s");
        List<TestAppProcess> generations = new ArrayList<>();
        List<Client> clients = new ArrayList<>();
        try {
            generations.add(TestAppProcess.start(args, 1));
            int port = generations.get(0).port("http");
            long socketsWithoutClients = sockets(generations.get(0).pid());
            for (int i = 0; i < 16; i++) {
                Client client = new Client(port);
                clients.add(client);
                assertEquals(generations.get(0).pid(), client.get(GET));
            }
            for (int generation = 2; generation <= 3; generation++) {
                TestAppProcess incumbent = generations.get(generations.size() - 1);
                TestAppProcess successor = TestAppProcess.start(args, generation);
                generations.add(successor);
                // Idle all along: they move because the drain wakes them, not because their clients spoke.
                assertEquals("DRAINED moved=16 kept=0 unmovable={} open=0", incumbent.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, incumbent.child().awaitExit(WAIT));
                for (Client client : clients) {
                    assertEquals(successor.pid(), client.get(GET), "the same connection, answered by the successor");
                }
            }
            clients.forEach(Client::close);
            long last = generations.get(generations.size() - 1).pid();
            awaitSockets(last, socketsWithoutClients, "once its clients have gone, the third generation holds as "
                    + "many sockets as the first did before any client came: nothing adopted leaked");
        } finally {
            clients.forEach(Client::close);
            generations.forEach(TestAppProcess::close);
        }
    }

    /** The management server on a port of its own is handed over too, and its connections move like the application's. */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void aManagementServerOnItsOwnPortIsHandedOverAndItsConnectionsMove(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s", "--management.server.port=0",
                "--spring.autoconfigure.exclude=" + otherManagementServers(server));
        String handoffState = "GET /actuator/handoff HTTP/1.1\r\nHost: localhost\r\n\r\n";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client application = new Client(first.port("http"));
             Client management = new Client(first.port("management"))) {
            assertEquals(first.pid(), application.get(GET));
            assertEquals(first.pid(), management.get(handoffState));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                assertEquals(first.port("management"), second.port("management"), "the management port was handed over");
                assertEquals("DRAINED moved=2 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                assertEquals(second.pid(), application.get(GET));
                assertEquals(second.pid(), management.get(handoffState));
            }
        }
    }

    /**
     * HTTP/2 over cleartext (h2c) cannot move: the old generation sends its connection a GOAWAY as soon as
     * the rest has moved, counts it, and exits long before its drain timeout; the client's next request
     * goes to the successor.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat"})
    void http2ConnectionsEndWithAGoawayAndAreCountedSoTheOldGenerationExitsEarly(String server) throws Exception {
        // A drain that waited for its deadline would outlast the wait for the old generation's exit.
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=300s", "--server.http2.enabled=true");
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build(); // closeable from JDK 21 only
        try (TestAppProcess first = TestAppProcess.start(args, 1)) {
            URI root = URI.create("http://127.0.0.1:" + first.port("http") + "/");
            HttpResponse<String> upgraded = client.send(HttpRequest.newBuilder(root).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, upgraded.version(), "h2c upgrade");
            assertTrue(upgraded.body().contains("\"pid\":" + first.pid()), upgraded.body());
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                String drained = first.child().awaitLine("DRAINED", WAIT);
                assertTrue(drained.contains("unmovable={http2=1}"), drained);
                assertEquals(0, first.child().awaitExit(WAIT), "the old generation exits once its HTTP/2 connection has ended");
                HttpResponse<String> after = client.send(HttpRequest.newBuilder(root).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, after.statusCode());
                assertTrue(after.body().contains("\"pid\":" + second.pid()), after.body());
            }
        }
    }

    /**
     * Ten deploys, one a second, under keep-alive load: each waits its turn (the previous generation is
     * still starting or draining), every one takes over, no request fails and no client reconnects.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void tenDeploysInTenSecondsUnderLoadAllTakeOverAndKeepEveryConnection(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s",
                "--server.tomcat.max-keep-alive-requests=-1");
        List<JavaChild> deploys = new ArrayList<>();
        long last = 0;
        try (TestAppProcess first = TestAppProcess.start(args, 1)) {
            HttpClients load = HttpClients.start(new InetSocketAddress("127.0.0.1", first.port("http")), 4,
                    Duration.ofMillis(2));
            try {
                for (int i = 0; i < 10; i++) {
                    deploys.add(JavaChild.start(TestApp.class, args));
                    Thread.sleep(1_000);
                }
                Set<Integer> generations = new TreeSet<>();
                for (JavaChild deploy : deploys) {
                    String ready = deploy.awaitLine("READY pid=", Duration.ofMinutes(3));
                    int generation = Integer.parseInt(ready.replaceAll(".*generation=(\\d+)$", "$1"));
                    generations.add(generation);
                    if (generation == 11) {
                        last = deploy.pid();
                    }
                }
                assertEquals(IntStream.rangeClosed(2, 11).boxed().collect(Collectors.toSet()), generations,
                        "each deploy took over from the one before it");
                assertEquals(0, first.child().awaitExit(WAIT));
                for (JavaChild deploy : deploys) {
                    if (deploy.pid() != last) {
                        assertEquals(0, deploy.awaitExit(WAIT), "every old generation exits once it has drained");
                    }
                }
                load.awaitMoreRequests(100, WAIT); // the last generation answers too
            } finally {
                load.close();
            }
            assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
            assertEquals(4, load.connections(), "no client had to open a second connection");
            // A generation taken over the moment it was READY may not have answered anyone; the last one did.
            assertTrue(load.pids().contains(last), "the last generation answers: " + load.pids());
        } finally {
            deploys.forEach(JavaChild::close);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void keepAliveClientsUnderLoadKeepTheirConnectionsThroughRestarts(String server) throws Exception {
        // Tomcat closes a connection after 100 requests by default, restart or not.
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s",
                "--server.tomcat.max-keep-alive-requests=-1");
        List<TestAppProcess> generations = new ArrayList<>();
        try {
            generations.add(TestAppProcess.start(args, 1));
            HttpClients load = HttpClients.start(new InetSocketAddress("127.0.0.1", generations.get(0).port("http")), 4,
                    Duration.ofMillis(2));
            try {
                for (int generation = 2; generation <= 4; generation++) {
                    TestAppProcess incumbent = generations.get(generations.size() - 1);
                    generations.add(TestAppProcess.start(args, generation));
                    assertEquals(0, incumbent.child().awaitExit(WAIT));
                }
                load.awaitMoreRequests(100, WAIT); // the last generation answers too
            } finally {
                load.close();
            }
            assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
            assertEquals(4, load.connections(), "no client had to open a second connection");
            List<Long> pids = generations.stream().map(TestAppProcess::pid).toList();
            for (Map.Entry<Integer, List<Long>> connection : load.pidsPerConnection().entrySet()) {
                assertEquals(pids, connection.getValue(), "every generation in turn answered on connection "
                        + connection.getKey());
            }
        } finally {
            generations.forEach(TestAppProcess::close);
        }
    }

    /**
     * A request whose head is half sent when the successor takes over, with a second request pipelined
     * behind its end: both are answered by the old generation (a request under way does not move), and
     * then the connection moves.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void aRequestSplitAcrossTheTakeoverIsAnsweredAndItsConnectionMovesAfter(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client client = new Client(first.port("http"))) {
            client.send("GET / HTTP/1.1\r\nHost: local");
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                client.send("host\r\n\r\n" + GET);
                assertEquals(first.pid(), client.read(), "the split request");
                assertEquals(first.pid(), client.read(), "the request pipelined behind it");
                assertEquals("DRAINED moved=1 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                assertEquals(second.pid(), client.get(GET));
            }
        }
    }

    /**
     * The test application has all three servers on its class path, which a real one does not: Boot's
     * management context configurations of the servers not in use must stay out.
     */
    private static String otherManagementServers(String server) {
        String prefix = "org.springframework.boot.";
        return switch (server) {
            case "tomcat" -> prefix + "jetty.autoconfigure.actuate.web.server.JettyServletManagementContextAutoConfiguration";
            case "jetty" -> prefix + "tomcat.autoconfigure.actuate.web.server.TomcatServletManagementContextAutoConfiguration";
            default -> prefix + "tomcat.autoconfigure.actuate.web.server.TomcatReactiveManagementContextAutoConfiguration,"
                    + prefix + "jetty.autoconfigure.actuate.web.server.JettyReactiveManagementContextAutoConfiguration";
        };
    }

    /** How many sockets a process holds, as /proc lists them. */
    private static long sockets(long pid) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (IOException closedMeanwhile) {
                    return false;
                }
            }).count();
        }
    }

    private static void awaitSockets(long pid, long expected, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long now;
        while ((now = sockets(pid)) != expected && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(expected, now, what);
    }

    /** A raw keep-alive connection that never reconnects: a closed connection fails the test. */
    private static final class Client implements AutoCloseable {
        private final Socket socket = new Socket();
        private final InputStream in;

        Client(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout(30_000);
            in = new BufferedInputStream(socket.getInputStream());
        }

        long get(String request) throws IOException {
            send(request);
            return read();
        }

        void send(String bytes) throws IOException {
            socket.getOutputStream().write(bytes.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
        }

        /** The pid that answered the next response, which must be a 200 that keeps the connection open. */
        long read() throws IOException {
            Response response = Response.read(in);
            assertEquals(200, response.status(), response.statusLine());
            assertTrue(response.keepAlive(), "the response keeps the connection: " + response);
            Matcher pid = PID.matcher(response.body());
            assertTrue(pid.find(), response.body());
            return Long.parseLong(pid.group(1));
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closed already
            }
        }
    }
}
