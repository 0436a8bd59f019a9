/** A checker, real server or virtual server was given settings its state machine cannot run with. */
export class HealthSettingsError extends Error {
  readonly code = 'EHEALTHSETTINGS';
  constructor(message: string) {
    super(message);
    this.name = 'HealthSettingsError';
  }
}

/** The scheduler was asked to do something with a checker it does not (or already does) hold. */
export class SchedulerError extends Error {
  constructor(
    readonly code: 'EDUPCHECKER' | 'ENOCHECKER',
    message: string,
  ) {
    super(message);
    this.name = 'SchedulerError';
  }
}
