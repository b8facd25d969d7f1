package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.spring.app.TestApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Spring Boot application in child JVMs, restarted under HTTP keep-alive load on each embedded
 * server: no request may fail, and every generation must have answered.
 */
class SpringRestartTest {

    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void restartsUnderKeepAliveLoadFailNoRequest(String server) throws Exception {
        int port = freePort();
        int echoPort = freePort();
        List<String> withEcho = new ArrayList<>(List.of(args(server, port)));
        withEcho.add("--test.echo-port=" + echoPort);
        String[] args = withEcho.toArray(new String[0]);
        List<JavaChild> generations = new ArrayList<>();
        try {
            generations.add(start(args, 1));
            KeepAliveClients load = new KeepAliveClients(port, 4);
            EchoLines echo = new EchoLines(echoPort, 4);
            try {
                for (int generation = 2; generation <= 4; generation++) {
                    JavaChild incumbent = generations.get(generations.size() - 1);
                    generations.add(start(args, generation));
                    assertEquals(0, incumbent.awaitExit(WAIT), "the old generation exits with status 0");
                }
                Thread.sleep(500);
            } finally {
                load.close();
                echo.close();
            }
            assertEquals(List.of(), load.failures());
            assertEquals(List.of(), echo.failures(), "the application's own TCP connections survive every restart");
            assertEquals(4, echo.fewestPids(), "each echo connection was answered by all four generations");
            assertTrue(load.requests() > 100, "the load ran: " + load.requests());
            assertEquals(4, load.pids().size(), "every generation answered: " + load.pids());
            String state = get(port, "/actuator/handoff");
            assertTrue(state.contains("\"generation\":4") && state.contains("\"inherited\":true"), state);
            String health = get(port, "/actuator/health");
            assertTrue(health.contains("\"status\":\"UP\""), health);
        } finally {
            generations.forEach(JavaChild::close);
        }
    }

    @Test
    void theActuatorEndpointStartsTheUpgrade() throws Exception {
        int port = freePort();
        String[] args = args("tomcat", port);
        List<String> command = JavaChild.command(TestApp.class, args);
        List<String> withUpgrade = new ArrayList<>(List.of(args));
        withUpgrade.add("--handoff.upgrade-command=" + String.join(",", command));
        try (JavaChild first = start(withUpgrade.toArray(new String[0]), 1)) {
            String cold = get(port, "/actuator/handoff");
            assertTrue(cold.contains("\"inherited\":false") && cold.contains("\"coldStartReason\":\"no incumbent at "), cold);
            HttpResponse<String> upgrade = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/actuator/handoff")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, upgrade.statusCode(), upgrade.body());
            assertTrue(upgrade.body().contains("\"outcome\":\"SUCCEEDED\""), upgrade.body());
            // The successor was started by the first process: its lines come through the first's stdout.
            first.awaitLine("READY pid=", WAIT);
            assertEquals(0, first.awaitExit(WAIT));
            String state = get(port, "/actuator/handoff");
            assertTrue(state.contains("\"generation\":2") && !state.contains("coldStartReason"), state);
            long successor = Long.parseLong(state.replaceAll(".*\"pid\":(\\d+).*", "$1"));
            ProcessHandle.of(successor).ifPresent(ProcessHandle::destroy);
        }
    }

    /** Long-lived line-echo connections to the application's own TCP server, each used every few ms. */
    private static final class EchoLines implements AutoCloseable {
        private final List<java.net.Socket> sockets = new ArrayList<>();
        private final List<java.util.Set<Long>> pids = new ArrayList<>();
        private final List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final Thread thread;
        private volatile boolean running = true;

        EchoLines(int port, int count) throws Exception {
            for (int i = 0; i < count; i++) {
                java.net.Socket socket = new java.net.Socket("127.0.0.1", port);
                socket.setSoTimeout(10_000);
                sockets.add(socket);
                pids.add(java.util.concurrent.ConcurrentHashMap.newKeySet());
            }
            thread = new Thread(this::run, "echo-lines");
            thread.start();
        }

        private void run() {
            List<java.io.BufferedReader> readers = new ArrayList<>();
            try {
                for (java.net.Socket socket : sockets) {
                    readers.add(new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                            java.nio.charset.StandardCharsets.US_ASCII)));
                }
                for (long round = 0; running; round++) {
                    for (int i = 0; i < sockets.size(); i++) {
                        String line = "c" + i + "-" + round;
                        sockets.get(i).getOutputStream().write((line + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                        String answer = readers.get(i).readLine();
                        if (answer == null || !answer.endsWith(" " + line)) {
                            failures.add("connection " + i + ": '" + answer + "' for '" + line + "'");
                            return;
                        }
                        pids.get(i).add(Long.parseLong(answer.substring(0, answer.indexOf(' '))));
                    }
                    Thread.sleep(20);
                }
            } catch (Exception e) {
                failures.add(e.toString());
            }
        }

        List<String> failures() {
            return List.copyOf(failures);
        }

        int fewestPids() {
            return pids.stream().mapToInt(java.util.Set::size).min().orElse(0);
        }

        @Override
        public void close() throws Exception {
            running = false;
            thread.join(15_000);
            for (java.net.Socket socket : sockets) {
                socket.close();
            }
        }
    }

    private String[] args(String server, int port) {
        return new String[] {"--server.port=" + port, "--handoff.socket=" + temp.resolve("run").resolve(server + ".sock"),
                "--spring.profiles.active=" + server, "--management.endpoints.web.exposure.include=handoff,health",
                "--server.shutdown=graceful", "--handoff.probation=200ms"};
    }

    private static JavaChild start(String[] args, int generation) throws Exception {
        JavaChild child = JavaChild.start(TestApp.class, args);
        String ready = child.awaitLine("READY pid=", WAIT);
        assertTrue(ready.endsWith("generation=" + generation), ready);
        return child;
    }

    private static String get(int port, String path) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
        return response.body();
    }

    private static int freePort() throws Exception {
        try (ServerSocket probe = new ServerSocket(0)) {
            return probe.getLocalPort();
        }
    }
}
