// vrrp_track_process and track_process in vrrp_instance / vrrp_sync_group, as keepalived reads them.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText, type LoadResult } from '../../src/config/load.js';

const load = (text: string): LoadResult => loadConfigText(text, 'k.conf', { configId: 'lb1', env: {} });
const messages = (r: LoadResult): string[] => r.diagnostics.map(formatDiagnostic);

function instance(extra: string, o: { name?: string; vrid?: number; priority?: number } = {}): string {
  return `vrrp_instance ${o.name ?? 'VI_1'} {
  interface eth0
  virtual_router_id ${o.vrid ?? 51}
  priority ${o.priority ?? 100}
${extra}
  virtual_ipaddress {
    10.0.0.1/24
  }
}
`;
}

describe('vrrp_track_process', () => {
  it('reads every setting, with delays in ms', () => {
    const r = load(`vrrp_track_process track_nginx {
  process nginx
  weight -10 reverse
  quorum 2
  quorum_max 4
  terminate_delay 2.5
  fork_delay 0.5
}
${instance('  track_process {\n    track_nginx\n  }')}`);
    expect(messages(r)).toEqual([]);
    expect(r.config!.vrrpTrackProcesses).toEqual([
      {
        name: 'track_nginx', pos: { file: 'k.conf', line: 1, column: 1 }, process: 'nginx', params: [], paramMatch: 'none', fullCommand: false,
        weight: -10, reverse: true, quorum: 2, quorumMax: 4, forkDelayMs: 500, terminateDelayMs: 2500,
      },
    ]);
    expect(r.config!.vrrpInstances[0]!.trackProcesses).toEqual([{ name: 'track_nginx', weight: undefined, reverse: false }]);
  });

  it('has keepalived defaults: weight 0, quorum 1, no maximum, no delays; `delay` sets both delays', () => {
    const r = load('vrrp_track_process p {\n  process haproxy\n  delay 3\n}\n');
    expect(r.config!.vrrpTrackProcesses[0]).toMatchObject({ weight: 0, reverse: false, quorum: 1, quorumMax: undefined, forkDelayMs: 3000, terminateDelayMs: 3000 });
  });

  it('parameters after the process mean the full command line, matched exactly unless param_match says otherwise', () => {
    const r = load(`vrrp_track_process a {
  process /usr/sbin/nginx -g "daemon off;"
}
vrrp_track_process b {
  param_match partial
  process /usr/bin/python3 app.py
}
vrrp_track_process c {
  process /usr/bin/sleep
  param_match
}
vrrp_track_process d {
  process java
  full_command
}
`);
    expect(messages(r)).toEqual([]);
    const [a, b, c, d] = r.config!.vrrpTrackProcesses;
    expect(a).toMatchObject({ process: '/usr/sbin/nginx', params: ['-g', 'daemon off;'], paramMatch: 'exact', fullCommand: true });
    expect(b).toMatchObject({ process: '/usr/bin/python3', params: ['app.py'], paramMatch: 'partial', fullCommand: true });
    expect(c).toMatchObject({ params: [], paramMatch: 'exact', fullCommand: true });
    expect(d).toMatchObject({ params: [], paramMatch: 'none', fullCommand: true });
  });

  it('quorum_max 0 means the process must not run (quorum 0)', () => {
    const r = load('vrrp_track_process no_cron {\n  process cron\n  quorum_max 0\n}\n');
    expect(messages(r)).toEqual([]);
    expect(r.config!.vrrpTrackProcesses[0]).toMatchObject({ quorum: 0, quorumMax: 0 });
  });

  it('reports bad values at their line and column', () => {
    const r = load(`vrrp_track_process p {
  process nginx
  process apache2
  weight 300
  quorum 0
  param_match middle
  delay 4000
  weight 5 sideways
  colour blue
}
vrrp_track_process q {
  quorum 3
}
vrrp_track_process r {
  process nginx
  quorum 3
  quorum_max 2
}
`);
    expect(messages(r)).toEqual([
      'k.conf:3:3: error: `process` is already set to `nginx`',
      'k.conf:4:10: error: a track process weight must be between -254 and 254, not 300',
      'k.conf:5:10: error: `quorum` must be between 1 and 65535, not 0',
      'k.conf:6:15: error: `param_match` takes initial or partial (or nothing, for an exact match), not `middle`',
      'k.conf:7:9: error: `delay` must be between 0.000001 and 3600 seconds, not 4000',
      'k.conf:8:12: error: expected `reverse` after the weight, not `sideways`',
      'k.conf:9:3: error: unknown keyword `colour` in vrrp_track_process',
      'k.conf:11:1: error: vrrp_track_process q has no `process`',
      'k.conf:16:3: error: vrrp_track_process r: `quorum` 3 is above `quorum_max` 2',
    ]);
    expect(r.config).toBeUndefined();
  });

  it('warns that a name longer than /proc/PID/comm can hold never matches without full_command', () => {
    const r = load('vrrp_track_process p {\n  process nginx-with-a-long-name\n}\nvrrp_track_process q {\n  process nginx-with-a-long-name\n  full_command\n}\n');
    expect(messages(r)).toEqual([
      'k.conf:1:1: warning: vrrp_track_process p: a process name is at most 15 bytes (/proc/PID/comm), so `nginx-with-a-long-name` never matches; add `full_command` to match the command line',
    ]);
  });

  it('refuses a second definition of the same name', () => {
    const r = load('vrrp_track_process p {\n  process a\n}\nvrrp_track_process p {\n  process b\n}\n');
    expect(messages(r)).toEqual(['k.conf:4:20: error: vrrp_track_process `p` is already defined at k.conf:1']);
  });
});

describe('track_process in vrrp_instance and vrrp_sync_group', () => {
  const nginx = 'vrrp_track_process track_nginx {\n  process nginx\n  weight 10\n}\n';

  it('takes a weight of its own (±254) with reverse or noreverse', () => {
    const r = load(nginx + instance('  track_process {\n    track_nginx weight -254 reverse\n  }'));
    expect(messages(r)).toEqual([]);
    expect(r.config!.vrrpInstances[0]!.trackProcesses).toEqual([{ name: 'track_nginx', weight: -254, reverse: true }]);
  });

  it('names an unknown vrrp_track_process with a suggestion, and ignores a duplicate', () => {
    const r = load(nginx + instance('  track_process {\n    track_ngin\n    track_nginx\n    track_nginx weight 5\n  }'));
    expect(messages(r)).toEqual([
      'k.conf:12:5: warning: track_process `track_nginx` is listed twice; keepalived ignores the second entry, so does ipvsd',
      'k.conf:10:5: error: no vrrp_track_process `track_ngin` is defined; did you mean `track_nginx`?',
    ]);
  });

  it('drops a weighted track_process of an address owner, keeps an unweighted one', () => {
    const unweighted = 'vrrp_track_process quiet {\n  process sshd\n}\n';
    const r = load(nginx + unweighted + instance('  track_process {\n    track_nginx\n    quiet\n  }', { priority: 255 }));
    expect(messages(r)).toEqual([
      'k.conf:8:1: warning: vrrp_instance VI_1: tracked process track_nginx has a weight, which is ignored because it is the address owner (priority 255); ipvsd drops it (set weight 0 to track it)',
    ]);
    expect(r.config!.vrrpInstances[0]!.trackProcesses).toEqual([{ name: 'quiet', weight: undefined, reverse: false }]);
  });

  it('is read in a vrrp_sync_group', () => {
    const r = load(`${nginx}${instance('')}${instance('', { name: 'VI_2', vrid: 52 })}vrrp_sync_group G {
  group {
    VI_1
    VI_2
  }
  track_process {
    track_nginx weight 0
  }
}
`);
    expect(messages(r)).toEqual([]);
    expect(r.config!.vrrpSyncGroups[0]!.trackProcesses).toEqual([{ name: 'track_nginx', weight: 0, reverse: false }]);
  });
});
