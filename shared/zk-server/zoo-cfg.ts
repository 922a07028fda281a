/** Settings shared by every server we launch; `extra` wins over them. */
export interface ZooCfgInput {
  tickTimeMs: number;
  dataDir: string;
  clientPort: number;
  /** Ensemble members as `server.N` → `127.0.0.1:quorumPort:electionPort`. */
  servers?: { id: number; quorumPort: number; electionPort: number }[];
  extra?: Record<string, string | number | boolean>;
}

export function zooCfg(c: ZooCfgInput): string {
  const settings: Record<string, string | number | boolean> = {
    tickTime: c.tickTimeMs,
    // Ticks a follower may take to connect/sync to the leader. Small, so a killed
    // member's replacement is noticed fast; loopback needs no more.
    initLimit: 10,
    syncLimit: 5,
    dataDir: c.dataDir,
    clientPort: c.clientPort,
    // Loopback only: nothing outside this machine should reach a test server.
    clientPortAddress: '127.0.0.1',
    // Tests open many clients from one address; the default cap (60) would bite.
    maxClientCnxns: 0,
    // The admin server would take port 8080 (clashes between servers and with the user).
    'admin.enableServer': false,
    // srvr is all the launcher needs; the rest help when debugging a failing test.
    '4lw.commands.whitelist': 'srvr,stat,ruok,mntr,cons,conf,wchs,wchp,dump',
    ...c.extra,
  };
  const lines = Object.entries(settings).map(([k, v]) => `${k}=${String(v)}`);
  for (const s of c.servers ?? []) lines.push(`server.${s.id}=127.0.0.1:${s.quorumPort}:${s.electionPort}`);
  return lines.join('\n') + '\n';
}
