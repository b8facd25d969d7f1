package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.spring.app.TestApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static dev.handoff.spring.TestAppProcess.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each start-up failure the starter can cause, in a real application (child JVMs): Spring Boot's
 * "APPLICATION FAILED TO START" block with what happened and the exact action, no stack trace in its
 * place, a non-zero status, and nothing left in the rendezvous directory.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class StartupFailureReportTest {

    @TempDir
    Path temp;

    @Test
    void aStartWithoutTheJvmFlagsSaysWhichManifestEntriesAndFlagsToAdd() throws Exception {
        String report = failedStart(List.of("-Xshare:auto"), TestAppProcess.args(temp, "tomcat"));
        assertTrue(report.contains("Handoff cannot rebuild the sockets it hands over: this JVM does not open "
                + "java.base/sun.nio.ch and java.base/java.io to it"), report);
        for (String line : List.of("<artifactId>maven-jar-plugin</artifactId>",
                "<Add-Opens>java.base/sun.nio.ch java.base/java.io</Add-Opens>",
                "<Enable-Native-Access>ALL-UNNAMED</Enable-Native-Access>",
                "java --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED "
                        + "--enable-native-access=ALL-UNNAMED -jar app.jar")) {
            assertTrue(report.contains(line), "the action names " + line + ":\n" + report);
        }
    }

    @Test
    void aRendezvousDirectoryOthersMayEnterIsReportedWithTheCommandThatMendsIt() throws Exception {
        Path open = Files.createDirectories(temp.resolve("run"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        String report = failedStart(JavaChild.JVM_FLAGS, TestAppProcess.args(temp, "tomcat"));
        assertTrue(report.contains("Handoff cannot use handoff.socket: rendezvous directory "
                + open + " has mode rwxr-xr-x"), report);
        assertTrue(report.contains("chmod 700 " + open), report);
        try (var left = Files.list(open)) {
            assertEquals(List.of(), left.toList());
        }
    }

    @Test
    void aSocketPathTooLongForAUnixSocketIsReportedBeforeTheServerStarts() throws Exception {
        Path deep = temp.resolve("d".repeat(80)).resolve("handoff.sock");
        String report = failedStart(JavaChild.JVM_FLAGS, new String[]{"--server.port=0", "--handoff.socket=" + deep,
                "--spring.profiles.active=tomcat"});
        assertTrue(report.contains("Handoff cannot use handoff.socket: rendezvous socket path " + deep + " is too long"),
                report);
        assertTrue(report.contains("Give handoff.socket a shorter path, such as /run/<app>/handoff.sock"), report);
    }

    @Test
    void aSecretFileOthersCanReadIsReportedWithTheCommandThatMendsIt() throws Exception {
        Path secret = secretFile("secret", "0123456789abcdef0123", "rw-r--r--");
        String report = startWithSecret(secret);
        assertTrue(report.contains("Handoff refused handoff.shared-secret-file: shared secret file " + secret
                + " has mode rw-r--r--"), report);
        assertTrue(report.contains("only it can read (chmod 600 " + secret + ")"), report);
    }

    @Test
    void aSecretFileTooShortToBeASecretIsReportedAsTheSecretFile() throws Exception {
        Path secret = secretFile("short", "only-12-byte", "rw-------");
        String report = startWithSecret(secret);
        assertTrue(report.contains("Handoff refused handoff.shared-secret-file: shared secret file " + secret
                + " holds 12 bytes: a shared secret needs at least 16 bytes"), report);
    }

    @Test
    void aPropertyValueOutOfRangeIsReportedByItsPropertyName() throws Exception {
        String report = failedStart(JavaChild.JVM_FLAGS, TestAppProcess.args(temp, "tomcat", "--handoff.startup-nice=25"));
        assertTrue(report.contains("Invalid handoff.startup-nice: startupNice must be between 0 and 19"), report);
        assertTrue(report.contains("Set handoff.startup-nice to a value the description allows"), report);
    }

    private Path secretFile(String name, String content, String mode) throws Exception {
        Path secret = Files.writeString(temp.resolve(name), content);
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString(mode));
        return secret;
    }

    private String startWithSecret(Path secret) throws Exception {
        return failedStart(JavaChild.JVM_FLAGS, TestAppProcess.args(temp, "tomcat", "--handoff.shared-secret-file=" + secret));
    }

    /** Starts the test application, which must fail; its whole output from the report on. */
    private String failedStart(List<String> jvmFlags, String[] args) throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        try (JavaChild child = JavaChild.start(new ProcessBuilder(JavaChild.command(jvmFlags, TestApp.class, args)),
                lines::add)) {
            assertEquals(1, child.awaitExit(WAIT), "a start that failed");
        }
        List<String> all = new ArrayList<>(lines);
        int block = all.indexOf("APPLICATION FAILED TO START");
        assertTrue(block >= 0, "Spring Boot's failure report:\n" + String.join("\n", all));
        String report = String.join("\n", all.subList(block, all.size()));
        assertTrue(report.contains("Description:") && report.contains("Action:"), report);
        assertFalse(all.stream().anyMatch(line -> line.startsWith("READY")), "it never said READY");
        return report;
    }
}
