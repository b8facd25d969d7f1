package dev.handoff.spring.diagnostics;

import dev.handoff.core.JvmAccessException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * A JVM started without the flags Handoff needs. On the class path (an executable jar, most applications)
 * the fix that lasts is the jar's manifest, which {@code java -jar} reads and Spring Boot's repackaging
 * keeps: the action gives the Maven snippet for it, then the {@code java} line for a JVM started by hand.
 */
public final class JvmAccessFailureAnalyzer extends AbstractFailureAnalyzer<JvmAccessException> {

    /** The manifest entries of the executable jar (the README's quick start gives the same). */
    private static final String MANIFEST_SNIPPET = """
            <plugin>
              <groupId>org.apache.maven.plugins</groupId>
              <artifactId>maven-jar-plugin</artifactId>
              <configuration>
                <archive>
                  <manifestEntries>
                    <Add-Opens>java.base/sun.nio.ch java.base/java.io</Add-Opens>
                    <Enable-Native-Access>ALL-UNNAMED</Enable-Native-Access>
                  </manifestEntries>
                </archive>
              </configuration>
            </plugin>
            """;

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, JvmAccessException cause) {
        String description = "Handoff cannot rebuild the sockets it hands over: this JVM does not open "
                + "java.base/sun.nio.ch and java.base/java.io to it (it was started without "
                + cause.requiredFlags() + ").";
        boolean classPath = cause.requiredFlags().contains("ALL-UNNAMED");
        String javaLine = "java " + cause.requiredFlags() + " --enable-native-access="
                + (classPath ? "ALL-UNNAMED" : "dev.handoff.core,org.newsclub.net.unix") + " -jar app.jar";
        String action;
        if (classPath) {
            action = "Put the flags in the executable jar's manifest, where java -jar reads them and Spring Boot's "
                    + "repackaging keeps them: in pom.xml, under <build><plugins>,\n\n" + indent(MANIFEST_SNIPPET)
                    + "\n(Gradle, Kotlin DSL: tasks.bootJar { manifest { attributes(\"Add-Opens\" to \"java.base/sun.nio.ch "
                    + "java.base/java.io\", \"Enable-Native-Access\" to \"ALL-UNNAMED\") } }), or start the JVM with "
                    + "them:\n\n    " + javaLine + "\n\nFor mvn spring-boot:run, give the same flags as the plugin's "
                    + "<jvmArguments>.";
        } else {
            action = "Start the JVM with the flags for the module path:\n\n    " + javaLine;
        }
        return new FailureAnalysis(description, action, cause);
    }

    private static String indent(String text) {
        return text.lines().map(line -> "    " + line).reduce("", (a, b) -> a + b + "\n");
    }
}
