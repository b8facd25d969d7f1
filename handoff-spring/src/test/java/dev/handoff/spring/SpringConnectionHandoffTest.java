package dev.handoff.spring;

import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.Response;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        } finally {
            clients.forEach(Client::close);
            generations.forEach(TestAppProcess::close);
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
                long served = load.requests();
                while (load.requests() < served + 100) {
                    Thread.sleep(10); // the last generation answers on the moved connections too
                }
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
