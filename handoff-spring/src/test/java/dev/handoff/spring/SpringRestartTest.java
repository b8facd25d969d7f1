package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.RawSuccessor;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.LineClients;
import dev.handoff.spring.app.TestApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Spring Boot application in child JVMs, restarted under HTTP keep-alive load on each embedded
 * server: no request may fail, and every generation must have answered.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
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
            HttpClients load = HttpClients.start(new InetSocketAddress("127.0.0.1", port), 4, Duration.ofMillis(1));
            LineClients echo = LineClients.open(new InetSocketAddress("127.0.0.1", echoPort), 4, Duration.ofMillis(20));
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
            assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
            assertEquals(List.of(), echo.losses(), "the application's own TCP connections survive every restart");
            assertEquals(4, echo.fewestPidsSeen(), () -> "each echo connection was answered by all four generations: "
                    + echo.pidsPerConnection());
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

    /**
     * A deploy while another successor holds the incumbent's session slot: it waits its busy timeout, then
     * stops with Spring Boot's short failure report (what happened, what to do) and a non-zero status.
     */
    @Test
    void aDeployThatMeetsABusyIncumbentWaitsItsBusyTimeoutThenFailsWithAShortReport() throws Exception {
        int port = freePort();
        String[] args = args("tomcat", port);
        try (JavaChild first = start(args, 1);
             JavaChild holder = JavaChild.start(RawSuccessor.class, temp.resolve("run").resolve("tomcat.sock").toString(),
                     "hello")) {
            holder.awaitLine("AT hello", WAIT);
            List<String> busy = new ArrayList<>(List.of(args));
            busy.add("--handoff.busy-timeout=1s");
            try (JavaChild second = JavaChild.start(TestApp.class, busy.toArray(new String[0]))) {
                String description = second.awaitLine("Handoff did not take over", WAIT);
                assertTrue(description.contains("still busy after PT1S (busyTimeout): incumbent is busy: another "
                        + "handoff is in progress"), description);
                assertTrue(second.awaitLine("Another generation is still taking over", WAIT).contains("handoff.busy-timeout"));
                assertEquals(1, second.awaitExit(WAIT), "a start that failed");
            }
            assertTrue(get(port, "/").contains("\"generation\":1"), "the incumbent serves on");
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
