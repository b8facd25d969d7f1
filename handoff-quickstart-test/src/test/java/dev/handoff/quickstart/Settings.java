package dev.handoff.quickstart;

import java.nio.file.Path;

/**
 * Maven settings for the fresh application's build: a local repository of the test's own, which holds
 * what this build made (installed there by the invoker plugin), and the outer build's local repository as
 * a file repository ahead of Maven Central, so that what is there already is not fetched again.
 */
final class Settings {

    private Settings() {
    }

    static String xml(Path repository, Path outerRepository) {
        String outer = outerRepository.toUri().toString();
        return """
                <settings>
                  <localRepository>%s</localRepository>
                  <profiles>
                    <profile>
                      <id>outer-repository</id>
                      <repositories>
                        <repository>
                          <id>outer</id>
                          <url>%s</url>
                          <snapshots><enabled>false</enabled></snapshots>
                        </repository>
                      </repositories>
                      <pluginRepositories>
                        <pluginRepository>
                          <id>outer</id>
                          <url>%s</url>
                          <snapshots><enabled>false</enabled></snapshots>
                        </pluginRepository>
                      </pluginRepositories>
                    </profile>
                  </profiles>
                  <activeProfiles>
                    <activeProfile>outer-repository</activeProfile>
                  </activeProfiles>
                </settings>
                """.formatted(repository, outer, outer);
    }
}
