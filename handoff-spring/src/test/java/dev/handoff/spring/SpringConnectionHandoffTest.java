package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.Response;
import dev.handoff.spring.app.TestApp;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import static dev.handoff.spring.TestAppProcess.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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

    /**
     * On Reactor Netty, once on each transport its connections can run on: native epoll (Reactor Netty's
     * default on Linux) and NIO (with {@code -Dreactor.netty.native=false}); each generation answers on a
     * channel of that transport.
     */
    @ParameterizedTest
    @CsvSource({"tomcat,,", "jetty,,", "netty,,EpollSocketChannel",
            "netty,--test.reactor-netty-native=false,DetachableNioSocketChannel"})
    void idleConnectionsMoveToEachSuccessorAndNoneIsClosed(String server, String flag, String nettyChannel) throws Exception {
        String[] args = TestAppProcess.args(temp, server,
                Stream.of("--handoff.drain-timeout=60s", flag).filter(Objects::nonNull).toArray(String[]::new));
        String request = nettyChannel == null ? GET : "GET /channel HTTP/1.1\r\nHost: localhost\r\n\r\n";
        String answer = nettyChannel == null ? "\"pid\"" : "\"channel\":\"" + nettyChannel + "\"";
        List<TestAppProcess> generations = new ArrayList<>();
        List<Client> clients = new ArrayList<>();
        try {
            generations.add(TestAppProcess.start(args, 1));
            int port = generations.get(0).port("http");
            long socketsWithoutClients = sockets(generations.get(0).pid());
            for (int i = 0; i < 16; i++) {
                Client client = new Client(port);
                clients.add(client);
                assertEquals(generations.get(0).pid(), client.get(request, answer));
            }
            for (int generation = 2; generation <= 3; generation++) {
                TestAppProcess incumbent = generations.get(generations.size() - 1);
                TestAppProcess successor = TestAppProcess.start(args, generation);
                generations.add(successor);
                // Idle all along: they move because the drain wakes them, not because their clients spoke.
                assertEquals("DRAINED moved=16 kept=0 unmovable={} open=0", incumbent.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, incumbent.child().awaitExit(WAIT));
                for (Client client : clients) {
                    assertEquals(successor.pid(), client.get(request, answer), "the same connection, answered by the successor");
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
        secondListenerMovesWithItsConnection(args, "management", "GET /actuator/handoff HTTP/1.1\r\nHost: localhost\r\n\r\n");
    }

    /**
     * A connector the application adds itself (Tomcat: {@code addAdditionalConnectors} with a plain
     * connector; Jetty: a server customizer) is handed over under a name of its own, keeps its port, and its
     * connections move like the main connector's. Reactor Netty has no such connectors.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty"})
    void aConnectorTheApplicationAddsIsHandedOverAndItsConnectionsMove(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s",
                "--test.additional-connector-port=0");
        secondListenerMovesWithItsConnection(args, "http-1", GET);
    }

    /**
     * A listener besides {@code http}: the second generation takes over its port, and a connection to each,
     * answered before the restart, is answered by the successor on the same connection.
     */
    private static void secondListenerMovesWithItsConnection(String[] args, String listener, String request) throws Exception {
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client application = new Client(first.port("http"));
             Client other = new Client(first.port(listener))) {
            assertNotEquals(first.port("http"), first.port(listener));
            assertEquals(first.pid(), application.get(GET));
            assertEquals(first.pid(), other.get(request));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                assertEquals(first.port(listener), second.port(listener), "the " + listener + " port was handed over");
                assertEquals("DRAINED moved=2 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                assertEquals(second.pid(), application.get(GET));
                assertEquals(second.pid(), other.get(request), "the same connection to " + listener
                        + ", answered by the successor");
            }
        }
    }

    /**
     * HTTP/2 over cleartext (h2c) cannot move: once the rest has moved, the old generation ends each such
     * connection the graceful way (GOAWAY, the streams under way answered, the connection closed), counts
     * it, and exits long before its drain timeout. Clients under load that retry only what a GOAWAY declares
     * unprocessed (RFC 9113, 6.8) see no request fail; an idle one reached by an h2c upgrade asks the
     * successor next; and a client that never closes a connection itself has it closed after its GOAWAY.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void http2ConnectionsEndWithAGracefulGoawayNoRequestFailsAndTheOldGenerationExitsEarly(String server)
            throws Exception {
        // A drain that waited for its deadline, or for the servers' own idle timeouts, would outlast the wait
        // for the old generation's exit.
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=300s", "--server.http2.enabled=true",
                "--server.tomcat.keep-alive-timeout=10m", "--server.jetty.connection-idle-timeout=10m",
                "--server.netty.idle-timeout=10m");
        HttpClient idle = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build(); // closeable from JDK 21 only
        OkHttpClient busy = new OkHttpClient.Builder().protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE)).build();
        try (TestAppProcess first = TestAppProcess.start(args, 1)) {
            String root = "http://127.0.0.1:" + first.port("http") + "/";
            HttpResponse<String> upgraded = idle.send(HttpRequest.newBuilder(URI.create(root)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, upgraded.version(), "h2c upgrade");
            assertEquals(first.pid(), pid(upgraded.body()));
            try (Http2Load load = new Http2Load(busy, root, 4);
                 StubbornHttp2Client stubborn = new StubbornHttp2Client(first.port("http"))) {
                assertEquals(first.pid(), stubborn.ask());
                load.awaitAnswersFrom(first.pid());
                try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                    String drained = first.child().awaitLine("DRAINED", WAIT);
                    assertTrue(drained.matches("DRAINED moved=0 kept=0 unmovable=\\{http2=\\d+} open=0"), drained);
                    assertEquals(0, first.child().awaitExit(WAIT), "the old generation exits once its HTTP/2 connections have ended");
                    List<Integer> goaways = stubborn.goawaysUntilClosed();
                    assertTrue(!goaways.isEmpty() && goaways.get(goaways.size() - 1) == 1,
                            "the server closed the connection after a GOAWAY naming the stream it answered: " + goaways);
                    load.awaitAnswersFrom(second.pid());
                    load.close();
                    assertEquals(List.of(), load.failures(), server + ": no request failed");
                    HttpResponse<String> after = idle.send(HttpRequest.newBuilder(URI.create(root)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertEquals(second.pid(), pid(after.body()));
                }
            }
        } finally {
            busy.dispatcher().executorService().shutdown();
            busy.connectionPool().evictAll();
        }
    }

    /**
     * Ten deploys, one a second, under keep-alive load: each waits its turn (the previous generation is
     * still starting or draining), every one takes over, no request fails and no client reconnects.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void tenDeploysInTenSecondsUnderLoadAllTakeOverAndKeepEveryConnection(String server) throws Exception {
        // The tenth deploy waits for the nine before it to start, take over and drain, one at a time: on two
        // busy cores that can outlast the default busy timeout (60 s), which is not what this test is about.
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s",
                "--server.tomcat.max-keep-alive-requests=-1", "--handoff.busy-timeout=150s");
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
     * behind its end: both are answered by the old generation (a request under way does not move), the
     * second well into the drain (the first takes a second), neither answer tells the client to close, and
     * then the connection moves. The same with HTTP/1.0 keep-alive where the server keeps such connections
     * (Reactor Netty closes them after each response). The requests say they came through a proxy that
     * ended TLS, and the server believes forwarded headers: the connection is still plain, and moves.
     */
    @ParameterizedTest
    @CsvSource({"tomcat,HTTP/1.1", "jetty,HTTP/1.1", "netty,HTTP/1.1", "tomcat,HTTP/1.0", "jetty,HTTP/1.0"})
    void aRequestSplitAcrossTheTakeoverIsAnsweredKeepingItsConnectionWhichMovesAfter(String server, String version)
            throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s",
                "--server.forward-headers-strategy=native");
        String headers = "\r\nHost: localhost\r\nConnection: keep-alive\r\nX-Forwarded-Proto: https\r\n\r\n";
        String get = "GET / " + version + headers;
        String slow = "GET /slow?ms=1000 " + version + headers;
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client client = new Client(first.port("http"))) {
            client.send(slow.substring(0, 30));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                client.send(slow.substring(30) + get);
                assertEquals(first.pid(), client.read(), "the split request");
                assertEquals(first.pid(), client.read(), "the request pipelined behind it");
                assertEquals("DRAINED moved=1 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                assertEquals(second.pid(), client.get(get));
            }
        }
    }

    /**
     * With h2c on, a connection's first bytes could still be HTTP/2's preface ({@code PRI * HTTP/2.0}) until
     * they tell, and Reactor Netty holds them aside meanwhile (Tomcat and Jetty read them as a request line).
     * A connection that has sent only the first byte of its first request ({@code P} of a {@code POST}) when
     * the drain begins does not move without it: the rest, sent once an idle connection beside it has moved
     * (so the drain has looked at both), makes a whole {@code POST} that is answered, not a request for a
     * method {@code OST}. Then it moves.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void theFirstByteOfARequestThatCouldStillBeAnHttp2PrefaceIsNotLostWhenTheDrainBegins(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s", "--server.http2.enabled=true");
        String post = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client begun = new Client(first.port("http"));
             Client idle = new Client(first.port("http"))) {
            begun.send(post.substring(0, 1));
            assertEquals(first.pid(), idle.get(GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                first.child().awaitLine("DRAINING", WAIT);
                long until = System.nanoTime() + WAIT.toNanos();
                while (idle.get(GET) != second.pid()) {
                    assertTrue(System.nanoTime() - until < 0, "the idle connection did not move");
                }
                begun.send(post.substring(1));
                Response answer = begun.response();
                assertEquals(200, answer.status(), answer.statusLine() + " " + answer.body());
                assertEquals("DRAINED moved=2 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(second.pid(), begun.get(GET), "then it moved");
            }
        }
    }

    /**
     * A request that keeps a worker thread busy across the drain's start (synchronous, unlike the
     * {@code Mono}s elsewhere) does not hold up the others: an idle connection's next request, sent once the
     * drain has begun, is answered by the successor while that request still runs on the old generation,
     * which answers it keeping its connection; that connection then moves too.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty"})
    void aSynchronousRequestUnderWayDoesNotHoldUpTheOtherConnectionsMoves(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client busy = new Client(first.port("http"));
             Client idle = new Client(first.port("http"))) {
            assertEquals(first.pid(), idle.get(GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                busy.send("GET /flushed?ms=4000 HTTP/1.1\r\nHost: localhost\r\n\r\n"); // ends well into the drain
                first.child().awaitLine("DRAINING", WAIT);
                long answeredBy;
                do { // the old generation answers them until its server starts releasing connections
                    answeredBy = idle.get(GET);
                } while (answeredBy == first.pid() && busy.in.available() == 0);
                assertEquals(second.pid(), answeredBy, "the idle connection moved");
                assertEquals(0, busy.in.available(), "while the synchronous request still ran");
                assertEquals(first.pid(), busy.read(), "which the old generation answers, keeping its connection");
                assertEquals("DRAINED moved=2 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(second.pid(), busy.get(GET));
                assertEquals(0, first.child().awaitExit(WAIT));
            }
        }
    }

    /**
     * Once the drain begins, no thread of the old generation waits in accept() on the listener the
     * successor now serves (one there would take the next connection from the successor's listener), while
     * a request still keeps the old generation draining; before the handoff, its acceptor did (Tomcat's and
     * Jetty's block in accept(); Reactor Netty's is its event loop). Jetty's acceptor used to stay there.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty"})
    void onceTheDrainBeginsNoThreadOfTheOldGenerationWaitsToAccept(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client busy = new Client(first.port("http"))) {
            int port = first.port("http");
            // Each wait is short: an acceptor goes back into accept() as soon as it has passed a connection on.
            awaitAccepting(first.pid(), port, 1, "before the handoff, its acceptor waits in accept()");
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                busy.send("GET /flushed?ms=4000 HTTP/1.1\r\nHost: localhost\r\n\r\n"); // ends well into the drain
                first.child().awaitLine("DRAINING", WAIT);
                awaitAccepting(first.pid(), port, 0, "threads of the old generation in accept()");
                assertEquals(0, busy.in.available(), "while its request still ran");
                assertEquals(first.pid(), busy.read());
                assertEquals("DRAINED moved=1 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                awaitAccepting(second.pid(), port, 1, "the successor's acceptor");
                assertEquals(0, first.child().awaitExit(WAIT));
            }
        }
    }

    /**
     * A client that keeps two requests outstanding (pipelining, as a busy proxy's connection can) from
     * before the successor starts: each response takes its server 100 ms or more (on Tomcat synchronous,
     * and asynchronous), so the next request waits in the socket each time a response is done. On Tomcat
     * the processor reads it in its keep-alive loop (after an asynchronous request, as it completes)
     * without ever returning the connection to the poller, where it could move. It moves all the same,
     * and is never told to close (it would be at the drain's deadline; Tomcat's limit of requests per
     * connection is lifted so that it cannot be before). (Reactor Netty reads and queues a pipelined
     * request while the one before it runs, and such a connection does not move: not tested here.)
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"tomcat, /flushed?ms=0", "tomcat, /slow?ms=100", "jetty, /flushed?ms=0"})
    void aConnectionWhoseNextRequestIsAlwaysWaitingMovesAllTheSame(String server, String path) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=30s",
                "--server.tomcat.max-keep-alive-requests=-1");
        String request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client client = new Client(first.port("http"))) {
            CompletableFuture<List<Long>> answers = CompletableFuture.supplyAsync(() -> {
                List<Long> pids = new ArrayList<>();
                try {
                    client.send(request + request);
                    do {
                        pids.add(client.read());
                        client.send(request);
                    } while (pids.get(pids.size() - 1) == first.pid());
                    pids.add(client.read());
                    pids.add(client.read());
                } catch (IOException e) {
                    throw new UncheckedIOException("after " + pids.size() + " responses", e);
                }
                return pids;
            });
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                List<Long> pids = answers.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertEquals(List.of(second.pid(), second.pid(), second.pid()), pids.subList(pids.size() - 3, pids.size()),
                        "the successor answered from the move on: " + pids);
                assertEquals(first.pid(), pids.get(0));
                assertEquals("DRAINED moved=1 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
            }
        }
    }

    /**
     * A successor that does not answer for a batch (stopped with SIGSTOP after its READY, a step timeout of
     * 2 s) does not get its connections: the old generation takes them back into its server and serves them.
     * A request sent while the connection was on its way, unanswered, is answered by the old generation on
     * the same connection, which the old generation reports kept; the successor, once continued, serves new
     * connections and never this one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void connectionsAStoppedSuccessorDidNotTakeInTimeAreServedAgainByTheOldGeneration(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.probation=2s", "--handoff.step-timeout=2s",
                "--handoff.drain-timeout=60s");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client client = new Client(first.port("http"))) {
            assertEquals(first.pid(), client.get(GET));
            whileASuccessorIsStopped(args, first, "", () -> {
                first.child().awaitLine("DRAINING", WAIT);
                Thread.sleep(500); // the idle connection is released and sent within the step timeout
                client.send(GET);
                Response answer = client.response();
                assertEquals(200, answer.status(), answer.statusLine());
                assertEquals(first.pid(), pid(answer.body()), "answered by the old generation, which took it back");
                assertFalse(answer.keepAlive(), "and told to close it: moving is over");
                client.close(); // as a client told so does (Jetty would otherwise wait for its idle timeout)
                String drained = first.child().awaitLine("DRAINED", WAIT);
                assertTrue(drained.startsWith("DRAINED moved=0 kept=1 "), drained);
                assertEquals(0, first.child().awaitExit(WAIT));
            });
        }
    }

    /**
     * A keep-alive connection the successor did not take (stopped with SIGSTOP after its READY, a step
     * timeout of 2 s) goes back into the old generation's server; idle there, once it alone keeps the old
     * generation it is closed, and the old generation exits long before the drain's deadline (two minutes
     * here, past the test's wait, as are the servers' own idle timeouts: Tomcat times a connection it takes
     * back out after its connection timeout), reporting it kept. The successor, once continued, serves new
     * connections. Behind the PROXY protocol, the same for a connection that has sent nothing yet (such a
     * connection moves, so it came back too).
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"tomcat, answered", "jetty, answered", "netty, answered", "jetty, awaiting-proxy-header",
            "netty, awaiting-proxy-header"})
    void anIdleConnectionTheSuccessorDidNotTakeIsClosedOnceItAloneKeepsTheOldGeneration(String server, String kind)
            throws Exception {
        boolean proxy = kind.equals("awaiting-proxy-header");
        String[] args = TestAppProcess.args(temp, server, Stream.of("--handoff.probation=2s", "--handoff.step-timeout=2s",
                "--handoff.drain-timeout=120s", "--server.tomcat.keep-alive-timeout=5m", "--server.tomcat.connection-timeout=5m",
                "--server.jetty.connection-idle-timeout=5m", proxy ? "--test.proxy-protocol=true" : null)
                .filter(Objects::nonNull).toArray(String[]::new));
        String header = proxy ? "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n" : "";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client idle = new Client(first.port("http"))) {
            if (proxy) {
                try (Client later = new Client(first.port("http"))) {
                    // Accepted in order: once a later connection is answered, the old generation has this one.
                    later.send(header + "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
                    assertEquals(first.pid(), pid(later.response().body()));
                    assertEquals(-1, later.in.read(), "closed by the server, so not open at the drain");
                }
            } else {
                assertEquals(first.pid(), idle.get(GET));
            }
            whileASuccessorIsStopped(args, first, header, () -> {
                assertEquals("DRAINED moved=0 kept=1 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
            });
        }
    }

    /** A step of a test, which may throw. */
    private interface Step {
        void run() throws Exception;
    }

    /**
     * Starts a successor and stops it (SIGSTOP) within its probation, so that the drain's first batch finds it
     * stopped; runs {@code whileStopped}; then continues it and checks that it serves new connections (each
     * beginning with {@code header}).
     */
    private static void whileASuccessorIsStopped(String[] args, TestAppProcess first, String header, Step whileStopped)
            throws Exception {
        try (TestAppProcess second = TestAppProcess.start(args, 2)) {
            second.child().signal("STOP");
            try {
                whileStopped.run();
            } finally {
                second.child().signal("CONT");
            }
            try (Client next = new Client(first.port("http"))) {
                assertEquals(second.pid(), next.get(header + GET), "the continued successor serves new connections");
            }
        }
    }

    /**
     * A request still under way when the drain's deadline passes (its connection could not move meanwhile)
     * is answered by the old generation with {@code Connection: close}, and the connection closes after it,
     * before the old generation exits; the next connection is the successor's. Before the takeover the same
     * request keeps its connection. The request is asynchronous on every server (a {@code Mono}): on Tomcat
     * and Jetty the servlet filter has returned long before the drain begins, so the server decides as the
     * response commits, as Reactor Netty's pipeline does.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void aResponseAfterTheDrainsDeadlineSaysCloseAndTheConnectionClosesAfterIt(String server) throws Exception {
        // The slow request starts within the probation and ends 2 s after the drain's deadline.
        String[] args = TestAppProcess.args(temp, server, "--handoff.probation=3s", "--handoff.drain-timeout=2s");
        String slow = "GET /slow?ms=%d HTTP/1.1\r\nHost: localhost\r\n\r\n";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client client = new Client(first.port("http"))) {
            client.send(slow.formatted(1));
            Response before = client.response();
            assertTrue(before.keepAlive(), "before the takeover the connection is kept: " + before);
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                client.send(slow.formatted(7_000));
                Response late = client.response();
                assertEquals(200, late.status(), late.statusLine());
                assertEquals(first.pid(), pid(late.body()), "answered by the old generation");
                assertFalse(late.keepAlive(), "the response after the deadline says Connection: close: " + late);
                assertEquals(-1, client.in.read(), "and the old generation closes the connection after it");
                assertEquals(0, first.child().awaitExit(WAIT));
                try (Client next = new Client(first.port("http"))) {
                    assertEquals(second.pid(), next.get(GET), "the client's next connection is the successor's");
                }
            }
        }
    }

    /**
     * TLS connections cannot move: during the drain a response on one says {@code Connection: close} and
     * the connection closes after it, whether its request began before the drain or within it. The one from
     * before is answered within the drain, where no filter can still add a header: a response the servlet
     * servers commit while its request still runs ({@code /flushed}: Tomcat's and Jetty's own hooks decide
     * as it commits), a 204 without a body completed asynchronously ({@code /empty}: on Tomcat, which has no
     * hook for responses without a body, the filter decides again on the asynchronous dispatch; Reactor
     * Netty decides in its pipeline). A third request, still under way, keeps the old generation meanwhile
     * (alone, the idle connection would be closed before its client speaks). All are reported closed for
     * {@code tls}, and the old generation exits once they have closed, long before the drain's deadline;
     * the client's next connection is the successor's.
     */
    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({"tomcat, /flushed", "tomcat, /empty", "jetty, /flushed", "netty, /empty"})
    void tlsConnectionsAreToldToCloseDuringTheDrainAndReportedClosedForTls(String server, String inFlightPath) throws Exception {
        Path keystore = selfSignedKeystore(temp);
        String[] args = TestAppProcess.args(temp, server, "--handoff.probation=3s", "--handoff.drain-timeout=60s",
                "--server.ssl.key-store=" + keystore, "--server.ssl.key-store-password=secret",
                "--server.ssl.key-store-type=PKCS12");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client inFlight = Client.tls(first.port("http"), keystore);
             Client idle = Client.tls(first.port("http"), keystore);
             Client holder = Client.tls(first.port("http"), keystore)) {
            assertEquals(first.pid(), inFlight.get(GET));
            assertEquals(first.pid(), idle.get(GET));
            assertEquals(first.pid(), holder.get(GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                inFlight.send("GET " + inFlightPath + "?ms=5000 HTTP/1.1\r\nHost: localhost\r\n\r\n"); // ends 2 s into the drain
                holder.send(untilTheDrainsFifthSecond(server));
                Response slow = inFlight.response();
                if (inFlightPath.equals("/empty")) {
                    assertEquals(204, slow.status(), slow.toString());
                } else {
                    assertEquals(first.pid(), pid(slow.body()), "answered by the old generation");
                }
                assertClosedAfter(inFlight, slow, "a request from before the drain");
                idle.send(GET);
                Response next = idle.response();
                assertEquals(first.pid(), pid(next.body()), "answered by the old generation");
                assertClosedAfter(idle, next, "a request within the drain");
                assertClosedAfter(holder, holder.response(), "the request that kept the old generation");
                assertEquals("DRAINED moved=0 kept=0 unmovable={tls=3} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                try (Client again = Client.tls(first.port("http"), keystore)) {
                    assertEquals(second.pid(), again.get(GET), "the client's next connection is the successor's");
                }
            }
        }
    }

    /**
     * A connection that began with a PROXY protocol header cannot move: the successor's server would read
     * its next request as the header it waits for first. During the drain a response on one says
     * {@code Connection: close} and the connection closes after it, whether its request began before the
     * drain or within it, while a third request keeps the old generation; all are reported for
     * {@code proxy}, and the old generation exits once they have closed, long before the drain's deadline.
     * The client's next connection is the successor's.
     */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "netty"})
    void connectionsThatBeganWithAProxyHeaderAreToldToCloseDuringTheDrainAndReportedForProxy(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.probation=3s", "--handoff.drain-timeout=60s",
                "--test.proxy-protocol=true");
        String header = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client inFlight = new Client(first.port("http"));
             Client idle = new Client(first.port("http"));
             Client holder = new Client(first.port("http"))) {
            assertEquals(first.pid(), inFlight.get(header + GET));
            assertEquals(first.pid(), idle.get(header + GET));
            assertEquals(first.pid(), holder.get(header + GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                inFlight.send("GET /slow?ms=5000 HTTP/1.1\r\nHost: localhost\r\n\r\n"); // ends 2 s into the drain
                holder.send(untilTheDrainsFifthSecond(server));
                Response slow = inFlight.response();
                assertEquals(first.pid(), pid(slow.body()), "answered by the old generation");
                assertClosedAfter(inFlight, slow, "a request from before the drain");
                idle.send(GET);
                Response next = idle.response();
                assertEquals(first.pid(), pid(next.body()), "answered by the old generation");
                assertClosedAfter(idle, next, "a request within the drain");
                assertClosedAfter(holder, holder.response(), "the request that kept the old generation");
                assertEquals("DRAINED moved=0 kept=0 unmovable={proxy=3} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                try (Client again = new Client(first.port("http"))) {
                    assertEquals(second.pid(), again.get(header + GET), "the client's next connection is the successor's");
                }
            }
        }
    }

    /**
     * An idle keep-alive connection that cannot move (TLS; behind a PROXY header) is closed once it alone
     * keeps the old generation, which then exits long before the drain's deadline (two minutes here, past
     * the test's wait, as are the servers' own idle timeouts, which would close it too): its client reads
     * the end of the connection with no response, and its next connection is the successor's. It is
     * reported closed for its reason. Reactor Netty on each of its transports (epoll, its default here,
     * and NIO).
     */
    @ParameterizedTest(name = "{0}: {1} {2}")
    @CsvSource({"tomcat, tls,", "jetty, tls,", "netty, tls,", "netty, tls, --test.reactor-netty-native=false",
            "jetty, proxy,", "netty, proxy,"})
    void anIdleConnectionThatCannotMoveIsClosedOnceItAloneKeepsTheOldGeneration(String server, String kind, String flag)
            throws Exception {
        Path keystore = kind.equals("tls") ? selfSignedKeystore(temp) : null;
        String[] args = TestAppProcess.args(temp, server, Stream.concat(Stream.of("--handoff.drain-timeout=120s",
                "--server.tomcat.keep-alive-timeout=5m", "--server.jetty.connection-idle-timeout=5m", flag).filter(Objects::nonNull),
                keystore == null ? Stream.of("--test.proxy-protocol=true") : Stream.of("--server.ssl.key-store=" + keystore,
                        "--server.ssl.key-store-password=secret", "--server.ssl.key-store-type=PKCS12")).toArray(String[]::new));
        String header = keystore == null ? "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n" : "";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client idle = Client.to(first.port("http"), keystore)) {
            assertEquals(first.pid(), idle.get(header + GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                assertEquals("DRAINED moved=0 kept=0 unmovable={" + kind + "=1} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                assertEquals(-1, idle.in.read(), "closed by the old generation, with no response");
                try (Client again = Client.to(first.port("http"), keystore)) {
                    assertEquals(second.pid(), again.get(header + GET), "the client's next connection is the successor's");
                }
            }
        }
    }

    /**
     * A TLS connection whose client has sent nothing (no ClientHello: a pool that connects ahead of its
     * requests, a health check that only connects) holds nothing of a request, and is closed with the idle
     * ones once they alone keep the old generation, rather than when the server's own handshake or
     * connection timeouts end it (set here past the test's wait, as is the drain's deadline). It was
     * accepted by the old generation, not left in the listener's backlog for the successor: a later
     * connection was (the backlog is first in, first out), and answered. Its client reads the end of the
     * connection with no response. (Reactor
     * Netty shows a TLS connection to its observers only once its handshake is done; before that, its own
     * handshake timeout, 10 s by default, ends one whose client says nothing.) With HTTP/2 on, Jetty's
     * connection before the handshake is the one that negotiates the protocol (ALPN), not HTTP/1.1's.
     */
    @ParameterizedTest(name = "{0} http2={1}")
    @CsvSource({"tomcat, false", "jetty, false", "jetty, true"})
    void aTlsConnectionWhoseClientHasSentNothingIsClosedWithTheIdleOnes(String server, boolean http2) throws Exception {
        Path keystore = selfSignedKeystore(temp);
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=120s",
                "--server.tomcat.keep-alive-timeout=5m", "--server.tomcat.connection-timeout=5m",
                "--server.jetty.connection-idle-timeout=5m", "--server.http2.enabled=" + http2,
                "--server.ssl.key-store=" + keystore, "--server.ssl.key-store-password=secret",
                "--server.ssl.key-store-type=PKCS12");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Socket silent = new Socket("127.0.0.1", first.port("http"));
             Client idle = Client.tls(first.port("http"), keystore)) {
            assertEquals(first.pid(), idle.get(GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                assertEquals("DRAINED moved=0 kept=0 unmovable={tls=2} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                silent.setSoTimeout(30_000);
                byte[] before = silent.getInputStream().readAllBytes(); // at most a TLS alert, then the end
                assertFalse(new String(before, StandardCharsets.ISO_8859_1).contains("HTTP/"), "no response: " + before.length);
                assertEquals(-1, idle.in.read(), "closed by the old generation, with no response");
                try (Client again = Client.tls(first.port("http"), keystore)) {
                    assertEquals(second.pid(), again.get(GET), "the client's next connection is the successor's");
                }
            }
        }
    }

    /**
     * Behind the PROXY protocol, a connection that has sent nothing yet (a load balancer opens them ahead of
     * its requests) moves: the successor's server begins such a connection the same way (Reactor Netty's
     * pipeline with its decoder, Jetty's connector with its detecting connection), and reads the header
     * when it comes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"jetty", "netty"})
    void aConnectionThatHasNotSentItsProxyHeaderMovesAndTheSuccessorReadsTheHeader(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--test.proxy-protocol=true");
        String header = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n";
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             Client fresh = new Client(first.port("http"))) {
            try (Client later = new Client(first.port("http"))) {
                // Accepted in order: once a later connection is answered, the old generation has this one.
                later.send(header + "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
                assertEquals(first.pid(), pid(later.response().body()));
                assertEquals(-1, later.in.read(), "closed by the server, so not open at the drain");
            }
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                assertEquals("DRAINED moved=1 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(second.pid(), fresh.get(header + GET), "the successor read the header and answered");
            }
        }
    }

    /**
     * An upgraded WebSocket connection cannot move: once the others have moved, the old generation closes it
     * the way RFC 6455 has a server going down do, with a Close frame saying 1001 (going away), and the
     * client's answering Close ends it. So the old generation drains without waiting for its deadline
     * ({@code open=0}) and reports it for {@code upgraded}; the keep-alive connection beside it moves, and
     * the client's next WebSocket is the successor's.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void aWebSocketIsClosedAsGoingAwayAtTheDrainAndTheOldGenerationDoesNotWaitForIt(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             WebSocketClient webSocket = new WebSocketClient(first.port("http"));
             Client keepAlive = new Client(first.port("http"))) {
            assertEquals(first.pid() + " hello", webSocket.exchange("hello"));
            assertEquals(first.pid(), keepAlive.get(GET));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                // Not a Close of the server's own, such as Jetty's at its WebSocket idle timeout (30 s), also 1001:
                assertEquals("1001 " + WebServerDrain.GOING_AWAY_REASON, webSocket.closeFrame(), "the old generation said it goes away");
                assertEquals("DRAINED moved=1 kept=0 unmovable={upgraded=1} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                assertEquals(second.pid(), keepAlive.get(GET), "the keep-alive connection moved");
                try (WebSocketClient again = new WebSocketClient(first.port("http"))) {
                    assertEquals(second.pid() + " again", again.exchange("again"), "the client's next WebSocket is the successor's");
                }
            }
        }
    }

    /** Over TLS too: the WebSocket is reported for {@code tls}, and closed the same way. */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void aWebSocketOverTlsIsClosedAsGoingAwayAtTheDrainToo(String server) throws Exception {
        Path keystore = selfSignedKeystore(temp);
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s",
                "--server.ssl.key-store=" + keystore, "--server.ssl.key-store-password=secret",
                "--server.ssl.key-store-type=PKCS12");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             WebSocketClient webSocket = new WebSocketClient(first.port("http"), trusting(keystore))) {
            assertEquals(first.pid() + " hello", webSocket.exchange("hello"));
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                assertEquals("1001 " + WebServerDrain.GOING_AWAY_REASON, webSocket.closeFrame(), "the old generation said it goes away");
                assertEquals("DRAINED moved=0 kept=0 unmovable={tls=1} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(0, first.child().awaitExit(WAIT));
                try (WebSocketClient again = new WebSocketClient(first.port("http"), trusting(keystore))) {
                    assertEquals(second.pid() + " again", again.exchange("again"), "the client's next WebSocket is the successor's");
                }
            }
        }
    }

    /** The JDK's WebSocket client on {@code /ws}: text messages as they come, and the Close the server sent. */
    private static final class WebSocketClient implements java.net.http.WebSocket.Listener, AutoCloseable {
        private final java.util.concurrent.BlockingQueue<String> messages = new java.util.concurrent.LinkedBlockingQueue<>();
        private final java.util.concurrent.CompletableFuture<String> closed = new java.util.concurrent.CompletableFuture<>();
        private final StringBuilder partial = new StringBuilder();
        private final java.net.http.WebSocket socket;

        WebSocketClient(int port) throws Exception {
            this(port, null);
        }

        /** Over TLS with {@code tls} (to localhost, the certificate's name), else plain. */
        WebSocketClient(int port, SSLContext tls) throws Exception {
            HttpClient client = tls == null ? HttpClient.newHttpClient() : HttpClient.newBuilder().sslContext(tls).build();
            URI uri = URI.create(tls == null ? "ws://127.0.0.1:" + port + "/ws" : "wss://localhost:" + port + "/ws");
            socket = client.newWebSocketBuilder().buildAsync(uri, this).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }

        /** Sends a text message and returns the next one the server sends. */
        String exchange(String text) throws Exception {
            socket.sendText(text, true).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            String answer = messages.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertTrue(answer != null, "no answer to '" + text + "'");
            return answer;
        }

        /** The server's Close, as its status code, a space and its reason (the client answers it with its own). */
        String closeFrame() throws Exception {
            return closed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }

        @Override
        public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                messages.add(partial.toString());
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public java.util.concurrent.CompletionStage<?> onClose(java.net.http.WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode + " " + reason);
            return null; // done with it: the client's Close goes out now
        }

        @Override
        public void onError(java.net.http.WebSocket webSocket, Throwable error) {
            closed.completeExceptionally(error);
        }

        @Override
        public void close() {
            socket.abort();
        }
    }

    /**
     * A response on a connection that cannot move, during the drain: it says close, and the connection closes
     * after it. The client then closes its end, as HTTP clients do (Jetty keeps a connection it closed for
     * writing until its client closes too, or its idle timeout).
     */
    private static void assertClosedAfter(Client client, Response response, String request) throws IOException {
        assertFalse(response.keepAlive(), request + ": " + response);
        assertEquals(-1, client.in.read(), "and the old generation closes the connection after it");
        client.close();
    }

    /**
     * Sent as the successor is READY, with a 3 s probation: its answer comes 5 s into the drain, and until
     * then an idle connection that cannot move is not all that keeps the old generation (it stays open). On
     * the servlet servers it runs on the request's thread, which holds the connection without its processor.
     */
    private static String untilTheDrainsFifthSecond(String server) {
        return "GET " + (server.equals("netty") ? "/slow" : "/flushed") + "?ms=8000 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    }

    /** A TLS context that trusts the certificate in {@code keystore} (as {@link #selfSignedKeystore} makes it). */
    private static SSLContext trusting(Path keystore) throws Exception {
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            trusted.load(in, "secret".toCharArray());
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(trusted);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }

    /** A PKCS12 key store (password {@code secret}) with a fresh self-signed certificate for localhost. */
    private static Path selfSignedKeystore(Path dir) throws Exception {
        Path keystore = dir.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "server", "-keyalg", "EC", "-dname", "CN=localhost", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", keystore.toString(), "-storepass", "secret")
                .redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(keytool.waitFor(60, TimeUnit.SECONDS) && keytool.exitValue() == 0, "keytool: " + output);
        return keystore;
    }

    /**
     * Requests that arrive while their connections move: idle connections each send one request, one
     * connection every 10 ms from the successor's READY on, over a second and more, across the probation
     * and the whole drain. Some arrive before their connection is released (the old generation answers,
     * then the connection moves), some while it is between the processes (the successor reads them from
     * the socket), the rest after. Every one is answered once, on its own connection, and the next request
     * on each goes to the successor.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void requestsSentAllThroughTheMoveAreEachAnsweredOnceOnTheirOwnConnection(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--handoff.drain-timeout=60s");
        List<Client> clients = new ArrayList<>();
        try (TestAppProcess first = TestAppProcess.start(args, 1)) {
            for (int i = 0; i < 128; i++) {
                Client client = new Client(first.port("http"));
                clients.add(client);
                assertEquals(first.pid(), client.get(GET));
            }
            try (TestAppProcess second = TestAppProcess.start(args, 2)) {
                long start = System.nanoTime();
                for (int i = 0; i < clients.size(); i++) {
                    long due = start + TimeUnit.MILLISECONDS.toNanos(10L * i);
                    TimeUnit.NANOSECONDS.sleep(due - System.nanoTime());
                    clients.get(i).send(GET);
                }
                Map<Long, Long> answeredBy = new TreeMap<>();
                for (Client client : clients) {
                    answeredBy.merge(client.read(), 1L, Long::sum);
                }
                assertEquals("DRAINED moved=128 kept=0 unmovable={} open=0", first.child().awaitLine("DRAINED", WAIT));
                assertEquals(Set.of(first.pid(), second.pid()), answeredBy.keySet(),
                        "the requests straddled the move: " + answeredBy);
                for (Client client : clients) {
                    assertEquals(second.pid(), client.get(GET), "the same connection, now the successor's");
                }
            }
        } finally {
            clients.forEach(Client::close);
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

    private static void awaitAccepting(long pid, int port, long expected, String what) throws Exception {
        awaitCount(() -> AcceptingThreads.count(pid, port), expected, Duration.ofSeconds(2), what);
    }

    private static void awaitSockets(long pid, long expected, String what) throws Exception {
        awaitCount(() -> sockets(pid), expected, Duration.ofSeconds(10), what);
    }

    /** Until {@code count} says {@code expected}, for at most {@code within}; then it must. */
    private static void awaitCount(Callable<Long> count, long expected, Duration within, String what) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        long now;
        while ((now = count.call()) != expected && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(expected, now, what);
    }

    private static long pid(String body) {
        Matcher pid = PID.matcher(body);
        assertTrue(pid.find(), body);
        return Long.parseLong(pid.group(1));
    }

    /** Clients that send request after request over OkHttp until closed, noting who answered and what failed. */
    private static final class Http2Load implements AutoCloseable {
        private final Set<Long> pids = ConcurrentHashMap.newKeySet();
        private final List<String> failures = new CopyOnWriteArrayList<>();
        private final List<Thread> clients = new ArrayList<>();
        private volatile boolean stopped;

        Http2Load(OkHttpClient client, String url, int count) {
            for (int i = 0; i < count; i++) {
                Thread thread = new Thread(() -> {
                    while (!stopped) {
                        try (okhttp3.Response response = client.newCall(new Request.Builder().url(url).build()).execute()) {
                            String body = response.body().string();
                            if (response.code() != 200 || response.protocol() != Protocol.H2_PRIOR_KNOWLEDGE) {
                                failures.add(response.protocol() + " " + response.code() + " " + body);
                            } else {
                                pids.add(pid(body));
                            }
                            Thread.sleep(2);
                        } catch (IOException | RuntimeException e) {
                            failures.add(e.toString());
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, "h2-client-" + i);
                clients.add(thread);
                thread.start();
            }
        }

        void awaitAnswersFrom(long pid) throws InterruptedException {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!pids.contains(pid) && failures.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(pids.contains(pid), () -> "no answer from " + pid + " (answered: " + pids + ", failed: " + failures + ")");
        }

        List<String> failures() {
            return failures;
        }

        @Override
        public void close() throws InterruptedException {
            stopped = true;
            for (Thread client : clients) {
                client.join();
            }
        }
    }

    /**
     * An HTTP/2 client with prior knowledge that asks once and then never closes its connection (it only
     * acknowledges SETTINGS and PING): whoever ends the connection is the server.
     */
    private static final class StubbornHttp2Client implements AutoCloseable {
        private static final int DATA = 0;
        private static final int HEADERS = 1;
        private static final int SETTINGS = 4;
        private static final int PING = 6;
        private static final int GOAWAY = 7;
        private final Socket socket = new Socket();
        private final DataInputStream in;

        StubbornHttp2Client(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout(30_000);
            in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            socket.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            write(SETTINGS, 0, 0, new byte[0]);
        }

        /** GET / on stream 1 (HPACK: :method GET, :path /, :scheme http, :authority localhost); the pid that answered. */
        long ask() throws IOException {
            byte[] authority = "localhost".getBytes(StandardCharsets.US_ASCII);
            byte[] headers = new byte[5 + authority.length];
            headers[0] = (byte) 0x82;
            headers[1] = (byte) 0x84;
            headers[2] = (byte) 0x86;
            headers[3] = 0x41;
            headers[4] = (byte) authority.length;
            System.arraycopy(authority, 0, headers, 5, authority.length);
            write(HEADERS, 0x5, 1, headers); // END_STREAM | END_HEADERS
            StringBuilder body = new StringBuilder();
            while (true) {
                Frame frame = read();
                if (frame == null) {
                    throw new EOFException("connection closed before the answer");
                }
                if (frame.type() == DATA && frame.stream() == 1) {
                    body.append(new String(frame.payload(), StandardCharsets.UTF_8));
                }
                if ((frame.type() == DATA || frame.type() == HEADERS) && frame.stream() == 1 && (frame.flags() & 1) != 0) {
                    return pid(body.toString());
                }
            }
        }

        /** Reads on until the server closes the connection; the last stream each GOAWAY named. */
        List<Integer> goawaysUntilClosed() throws IOException {
            List<Integer> lastStreams = new ArrayList<>();
            Frame frame;
            while ((frame = read()) != null) {
                if (frame.type() == GOAWAY) {
                    lastStreams.add(ByteBuffer.wrap(frame.payload()).getInt() & 0x7fffffff);
                }
            }
            return lastStreams;
        }

        /** The next frame that is not one answered here, or null at the end of the stream. */
        private Frame read() throws IOException {
            while (true) {
                int length;
                try {
                    length = in.readUnsignedByte() << 16 | in.readUnsignedShort();
                } catch (EOFException end) {
                    return null;
                }
                int type = in.readUnsignedByte();
                int flags = in.readUnsignedByte();
                int stream = in.readInt() & 0x7fffffff;
                byte[] payload = in.readNBytes(length);
                if (type == SETTINGS && (flags & 1) == 0) {
                    write(SETTINGS, 1, 0, new byte[0]);
                } else if (type == PING && (flags & 1) == 0) {
                    write(PING, 1, 0, payload);
                } else {
                    return new Frame(type, flags, stream, payload);
                }
            }
        }

        private void write(int type, int flags, int stream, byte[] payload) throws IOException {
            ByteBuffer frame = ByteBuffer.allocate(9 + payload.length);
            frame.put((byte) (payload.length >>> 16)).putShort((short) payload.length).put((byte) type)
                    .put((byte) flags).putInt(stream).put(payload);
            socket.getOutputStream().write(frame.array());
            socket.getOutputStream().flush();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }

        private record Frame(int type, int flags, int stream, byte[] payload) {
        }
    }

    /** A raw keep-alive connection that never reconnects: a closed connection fails the test. */
    private static final class Client implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;

        Client(int port) throws IOException {
            this(new Socket(), port);
        }

        private Client(Socket socket, int port) throws IOException {
            this.socket = socket;
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout(30_000);
            in = new BufferedInputStream(socket.getInputStream());
        }

        /** Over TLS if a {@code keystore} is given, else plain. */
        static Client to(int port, Path keystore) throws Exception {
            return keystore == null ? new Client(port) : tls(port, keystore);
        }

        /** Over TLS, trusting the certificate in {@code keystore} alone. */
        static Client tls(int port, Path keystore) throws Exception {
            SSLSocket socket = (SSLSocket) trusting(keystore).getSocketFactory().createSocket();
            Client client = new Client(socket, port);
            try {
                socket.startHandshake();
            } catch (IOException e) {
                client.close();
                throw e;
            }
            return client;
        }

        long get(String request) throws IOException {
            send(request);
            return read();
        }

        /** The pid that answered {@code request} with a body that contains {@code part}. */
        long get(String request, String part) throws IOException {
            send(request);
            Response response = Response.read(in);
            assertTrue(response.body().contains(part), "expected " + part + " in " + response);
            return answeredBy(response);
        }

        void send(String bytes) throws IOException {
            socket.getOutputStream().write(bytes.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
        }

        Response response() throws IOException {
            return Response.read(in);
        }

        /** The pid that answered the next response, which must be a 200 that keeps the connection open. */
        long read() throws IOException {
            return answeredBy(Response.read(in));
        }

        private static long answeredBy(Response response) {
            assertEquals(200, response.status(), response.statusLine());
            assertTrue(response.keepAlive(), "the response keeps the connection: " + response);
            return pid(response.body());
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
