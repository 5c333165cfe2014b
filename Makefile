# The Makefile only wraps Maven (through the pinned wrapper) with a JDK 21+ it finds by itself.
SHELL := /bin/sh
JAVA_HOME := $(shell scripts/find-jdk)
ifeq ($(JAVA_HOME),)
$(error no JDK 21 or newer found: set JAVA_HOME to one, or install one under /usr/lib/jvm)
endif
export JAVA_HOME
MVN := ./mvnw -B -ntp
JAR := target/sluice.jar
ARGS ?=

.PHONY: run test jar bench soak clean

run: $(JAR)
	$(JAVA_HOME)/bin/java -jar $(JAR) serve $(ARGS)

test:
	$(MVN) verify

# The fault suite scaled up (200 SIGKILL cycles, 10,000 fuzzed streams, ...); ends with a table of figures.
soak:
	$(MVN) verify -Psoak

jar: $(JAR)

$(JAR): pom.xml $(shell find proto src/main -type f 2>/dev/null)
	$(MVN) -DskipTests package

clean:
	$(MVN) clean
