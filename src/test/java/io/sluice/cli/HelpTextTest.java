package io.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The commands' help, as picocli prints it. */
class HelpTextTest {
    /**
     * picocli prints each element of a description on a line of its own: one that ended mid-sentence
     * ("...delivery resumes after it,") read as a help text cut off.
     */
    @Test
    void eachDescriptionLineIsAWholeSentence() {
        check(Main.commandLine(new ByteArrayInputStream(new byte[0]), null));
    }

    private static void check(CommandLine cl) {
        for (String line : cl.getCommandSpec().usageMessage().description()) {
            String end = line.strip().replaceAll("(%n)+$", "");   // picocli's own help command ends in %n
            assertTrue(end.endsWith(".") || end.endsWith(")"), () -> cl.getCommandName() + ": '" + line + "'");
        }
        cl.getSubcommands().values().forEach(HelpTextTest::check);
    }
}
