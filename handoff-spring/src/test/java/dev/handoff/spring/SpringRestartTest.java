package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.RawSuccessor;
import dev.handoff.core.testing.ThreadPriorities;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.LineClients;
import dev.handoff.spring.app.TestApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static dev.handoff.spring.TestAppProcess.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real Spring Boot application in child JVMs, restarted under HTTP keep-alive load on each embedded
 * server: no request may fail, and every generation must have answered.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SpringRestartTest {

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "jetty", "netty"})
    void restartsUnderKeepAliveLoadFailNoRequestAndEachTcpServerBeanKeepsItsOwnConnections(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--test.echo-port=0", "--test.second-echo-port=0");
        List<TestAppProcess> generations = new ArrayList<>();
        try {
            generations.add(TestAppProcess.start(args, 1));
            int port = generations.get(0).port("http");
            HttpClients load = HttpClients.start(new InetSocketAddress("127.0.0.1", port), 4, Duration.ofMillis(1));
            // Two TCP servers in one application, each answering with its listener's name: a connection
            // adopted by the other one's handler would be answered under the wrong name.
            List<LineClients> echoes = new ArrayList<>();
            try {
                for (String listener : List.of("echo", "echo-2")) {
                    echoes.add(LineClients.open(new InetSocketAddress("127.0.0.1", generations.get(0).port(listener)),
                            listener, 4, Duration.ofMillis(20)));
                }
                for (int generation = 2; generation <= 4; generation++) {
                    TestAppProcess incumbent = generations.get(generations.size() - 1);
                    generations.add(TestAppProcess.start(args, generation));
                    assertEquals(0, incumbent.child().awaitExit(WAIT), "the old generation exits with status 0");
                }
                load.awaitMoreRequests(100, WAIT); // the last generation answers too
            } finally {
                load.close();
                for (LineClients echo : echoes) {
                    echo.close();
                }
            }
            assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
            assertEquals(2, echoes.size());
            for (LineClients echo : echoes) {
                assertEquals(List.of(), echo.losses(), "the application's own TCP connections survive every restart, "
                        + "each served by its own server");
                assertEquals(4, echo.fewestPidsSeen(), () -> "each echo connection was answered by all four generations: "
                        + echo.pidsPerConnection());
            }
            assertEquals(4, load.pids().size(), "every generation answered: " + load.pids());
            String state = get(port, "/actuator/handoff");
            assertTrue(state.contains("\"generation\":4") && state.contains("\"inherited\":true"), state);
            String health = get(port, "/actuator/health");
            assertTrue(health.contains("\"status\":\"UP\""), health);
        } finally {
            generations.forEach(TestAppProcess::close);
        }
    }

    @Test
    void theActuatorEndpointStartsTheUpgrade() throws Exception {
        String[] args = TestAppProcess.args(temp, "tomcat");
        List<String> withUpgrade = new ArrayList<>(List.of(args));
        withUpgrade.add("--handoff.upgrade-command=" + String.join(",", JavaChild.command(TestApp.class, args)));
        try (TestAppProcess first = TestAppProcess.start(withUpgrade.toArray(new String[0]), 1)) {
            int port = first.port("http");
            String cold = get(port, "/actuator/handoff");
            assertTrue(cold.contains("\"inherited\":false") && cold.contains("\"coldStartReason\":\"no incumbent at "), cold);
            HttpResponse<String> upgrade = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/actuator/handoff")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, upgrade.statusCode(), upgrade.body());
            assertTrue(upgrade.body().contains("\"outcome\":\"SUCCEEDED\""), upgrade.body());
            // The successor was started by the first process: its lines come through the first's stdout.
            first.child().awaitLine("READY pid=", WAIT);
            assertEquals(0, first.child().awaitExit(WAIT));
            String state = get(port, "/actuator/handoff");
            assertTrue(state.contains("\"generation\":2") && !state.contains("coldStartReason"), state);
            long successor = Long.parseLong(state.replaceAll(".*\"pid\":(\\d+).*", "$1"));
            ProcessHandle.of(successor).ifPresent(ProcessHandle::destroy);
        }
    }

    /**
     * The old generation's drain ends in closing its context, on a thread of the starter's: the JVM must not
     * begin to exit under that thread when the web server's threads end, so every bean is destroyed, however
     * slowly, and the process exits with the application's own exit code.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tomcat", "netty"})
    void theOldGenerationClosesItsContextToTheEndAndExitsWithTheApplicationsExitCode(String server) throws Exception {
        String[] args = TestAppProcess.args(temp, server, "--test.exit-code=3");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             TestAppProcess second = TestAppProcess.start(args, 2)) {
            assertEquals(3, first.child().awaitExit(WAIT), "the application's exit code");
            // Printed before the exit, so it is among the lines already read: the slow bean was destroyed.
            first.child().awaitLine("DESTROYED pid=" + first.child().pid(), Duration.ofSeconds(10));
            assertTrue(get(second.port("http"), "/").contains("\"generation\":2"), "the successor serves");
        }
    }

    /**
     * A successor's start-up runs ten steps nicer than it serves from the start of SpringApplication.run
     * (before its environment and its context), every thread of it, and serves at its usual priority from
     * READY on.
     */
    @Test
    void aSuccessorsContextStartsNicerAndItServesAtItsUsualPriority() throws Exception {
        assumeTrue(ThreadPriorities.canRaise(), "restoring a priority needs CAP_SYS_NICE; without it nothing is lowered");
        int usual = ThreadPriorities.niceOf(ProcessHandle.current().pid());
        String[] args = TestAppProcess.args(temp, "tomcat", "--test.start-delay=2s");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
             JavaChild second = JavaChild.start(TestApp.class, args)) {
            assertEquals(Set.of(usual), ThreadPriorities.threadNices(first.pid()), "a cold start is never lowered");
            assertEquals("ENVIRONMENT nice=" + Math.min(19, usual + 10), second.awaitLine("ENVIRONMENT nice=", WAIT),
                    "lowered from the start of SpringApplication.run, with handoff.socket on the command line");
            second.awaitLine("CONTEXT STARTING", WAIT);
            assertEquals(Set.of(Math.min(19, usual + 10)), ThreadPriorities.threadNices(second.pid()));
            second.awaitLine("READY pid=", WAIT);
            assertEquals(Set.of(usual), ThreadPriorities.threadNices(second.pid()));
            assertEquals(0, first.child().awaitExit(WAIT));
        }
    }

    /**
     * The command line names the socket, so the start is lowered before the environment is read; the
     * application's own properties then turn Handoff off: the priority is restored, and the process serves
     * (on a port of its own, without Handoff) at its usual priority.
     */
    @Test
    void aStartLoweredForItsCommandLineButWhosePropertiesTurnHandoffOffServesAtItsUsualPriority() throws Exception {
        assumeTrue(ThreadPriorities.canRaise(), "restoring a priority needs CAP_SYS_NICE; without it nothing is lowered");
        int usual = ThreadPriorities.niceOf(ProcessHandle.current().pid());
        Path off = Files.writeString(temp.resolve("off.properties"), "handoff.enabled=false\n");
        try (TestAppProcess first = TestAppProcess.start(TestAppProcess.args(temp, "tomcat"), 1);
             JavaChild second = JavaChild.start(TestApp.class, TestAppProcess.args(temp, "tomcat",
                     "--spring.config.additional-location=file:" + off))) {
            assertEquals("ENVIRONMENT nice=" + Math.min(19, usual + 10), second.awaitLine("ENVIRONMENT nice=", WAIT));
            assertTrue(second.awaitLine("READY pid=", WAIT).endsWith("generation=0"), "served without Handoff");
            assertEquals(Set.of(usual), ThreadPriorities.threadNices(second.pid()));
            assertEquals(Set.of(usual), ThreadPriorities.threadNices(first.pid()));
        }
    }

    /**
     * A deploy while another successor holds the incumbent's session slot: it waits its busy timeout, then
     * stops with Spring Boot's short failure report (what happened, what to do) and a non-zero status.
     */
    @Test
    void aDeployThatMeetsABusyIncumbentWaitsItsBusyTimeoutThenFailsWithAShortReport() throws Exception {
        String[] args = TestAppProcess.args(temp, "tomcat");
        try (TestAppProcess first = TestAppProcess.start(args, 1);
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
            assertTrue(get(first.port("http"), "/").contains("\"generation\":1"), "the incumbent serves on");
        }
    }

    private static String get(int port, String path) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
        return response.body();
    }
}
