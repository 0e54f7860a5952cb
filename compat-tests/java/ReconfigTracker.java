// Follows dynamic reconfigs the way applications see them: the ZooKeeper client's
// getConfig with a watch, and Curator's ensemble tracker (ensembleTracker(true)) with its
// getCurrentConfig() and connection string.
//
//   javac -cp CP -d OUT ReconfigTracker.java
//   java  -cp OUT:CP ReconfigTracker CONNECT super:PASSWORD ID SPEC[,SPEC...]
//
// SPEC is every member's `server.N=...;client` line, ID the member to remove and add back.
// Steps: give every member its client address (non-incremental: the full list), remove ID
// (incremental), add ID back (incremental). Before each step a getConfig watch is set; after
// it the program prints the reconfig's answer, the watch event, the config getConfig then
// returns and the tracker's view once its version reaches the answer's. Prints
// "FAIL <reason>" and exits 1 on any failure, "DONE" at the end.

import java.nio.charset.StandardCharsets;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.quorum.flexible.QuorumVerifier;

public class ReconfigTracker {
    static final long DEADLINE_MS = 30_000;

    interface Step {
        byte[] run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String auth = args[1];
        String id = args[2];
        String[] specs = args[3].split(",");
        String back = null;
        for (String s : specs) {
            if (s.startsWith("server." + id + "=")) {
                back = s;
            }
        }
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .retryPolicy(new RetryNTimes(30, 500))
                .sessionTimeoutMs(30_000)
                .authorization("digest", auth.getBytes(StandardCharsets.UTF_8))
                .ensembleTracker(true)
                .build();
        int rc = 0;
        try {
            client.start();
            if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("not connected");
            }
            // The first config names no client address: the tracker keeps its empty one.
            Thread.sleep(1000);
            print("start", client);
            final String joining = back;
            step("members", client, () -> client.reconfig().withNewMembers(specs).forEnsemble());
            step("remove", client, () -> client.reconfig().leaving(id).forEnsemble());
            step("add", client, () -> client.reconfig().joining(joining).forEnsemble());
            System.out.println("DONE");
        } catch (Throwable t) {
            System.out.println("FAIL " + t);
            rc = 1;
        } finally {
            client.close();
        }
        System.exit(rc);
    }

    static void step(String name, CuratorFramework client, Step step) throws Exception {
        ZooKeeper zk = client.getZookeeperClient().getZooKeeper();
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        zk.getConfig(events::add, new Stat());
        byte[] answer = step.run();
        System.out.println(name + " answer " + oneLine(answer));
        WatchedEvent ev = events.poll(DEADLINE_MS, TimeUnit.MILLISECONDS);
        if (ev == null) {
            throw new IllegalStateException(name + ": no getConfig watch event");
        }
        System.out.println(name + " watch " + ev.getType() + " " + ev.getPath());
        Stat stat = new Stat();
        byte[] now = client.getZookeeperClient().getZooKeeper().getConfig(false, stat);
        System.out.println(name + " getConfig " + oneLine(now) + " mzxid=" + Long.toHexString(stat.getMzxid()));
        long version = Long.parseLong(new String(answer, StandardCharsets.UTF_8)
                .replaceAll("(?s).*version=", "").trim(), 16);
        waitFor(() -> client.getCurrentConfig().getVersion() == version,
                name + ": the tracker at version " + Long.toHexString(version));
        print(name, client);
    }

    static void print(String name, CuratorFramework client) {
        QuorumVerifier qv = client.getCurrentConfig();
        System.out.println(name + " tracker version=" + Long.toHexString(qv.getVersion())
                + " members=" + new TreeSet<>(qv.getAllMembers().keySet())
                + " voters=" + new TreeSet<>(qv.getVotingMembers().keySet())
                + " connect=" + client.getZookeeperClient().getCurrentConnectionString());
    }

    static String oneLine(byte[] data) {
        return new String(data, StandardCharsets.UTF_8).replace("\n", " | ");
    }

    interface Cond {
        boolean holds() throws Exception;
    }

    static void waitFor(Cond cond, String what) throws Exception {
        long end = System.currentTimeMillis() + DEADLINE_MS;
        while (!cond.holds()) {
            if (System.currentTimeMillis() > end) {
                throw new IllegalStateException("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }
}
