package hivebridge

import (
	"google.golang.org/protobuf/types/known/structpb"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// Command builders for the five kinds; a nil map leaves the Struct unset.
// Map values must be what structpb.NewValue accepts (JSON-like values).

// UpgradeDevice: "UpgradeDevice.upgrade" to version ("" = the newest).
func UpgradeDevice(version string) *bridgev1.Command {
	u := &bridgev1.UpgradeDevice{Action: bridgev1.UpgradeDevice_ACTION_UPGRADE}
	if version != "" {
		u.Version = &version
	}
	return &bridgev1.Command{Kind: &bridgev1.Command_UpgradeDevice{UpgradeDevice: u}}
}

// DeviceCommand: "DeviceCommand.<action>" with free-form arguments.
func DeviceCommand(action bridgev1.DeviceCommand_Action, arguments map[string]interface{}) (*bridgev1.Command, error) {
	args, err := toStruct(arguments)
	if err != nil {
		return nil, err
	}
	return &bridgev1.Command{Kind: &bridgev1.Command_DeviceCommand{
		DeviceCommand: &bridgev1.DeviceCommand{Action: action, Arguments: args}}}, nil
}

// SchedulerAction: start or stop an app instance; set the other fields on
// the returned message's GetSchedulerAction() as needed.
func SchedulerAction(action bridgev1.SchedulerAction_Action, instance string, app *bridgev1.Application) *bridgev1.Command {
	return &bridgev1.Command{Kind: &bridgev1.Command_SchedulerAction{
		SchedulerAction: &bridgev1.SchedulerAction{Action: action, Instance: &instance, Application: app}}}
}

// AppInstanceCommand: "AppInstanceCommand.<action>" for an app instance.
func AppInstanceCommand(action bridgev1.AppInstanceCommand_Action, instance string,
	arguments map[string]interface{}) (*bridgev1.Command, error) {
	args, err := toStruct(arguments)
	if err != nil {
		return nil, err
	}
	return &bridgev1.Command{Kind: &bridgev1.Command_AppInstanceCommand{
		AppInstanceCommand: &bridgev1.AppInstanceCommand{Action: action, Instance: &instance, Arguments: args}}}, nil
}

// Raw: any wire command "<Kind>.<action>" with a free-form payload.
func Raw(command string, payload map[string]interface{}) (*bridgev1.Command, error) {
	if payload == nil {
		payload = map[string]interface{}{}
	}
	p, err := toStruct(payload)
	if err != nil {
		return nil, err
	}
	return &bridgev1.Command{Kind: &bridgev1.Command_Raw{Raw: &bridgev1.RawCommand{Command: command, Payload: p}}}, nil
}

func toStruct(m map[string]interface{}) (*structpb.Struct, error) {
	if m == nil {
		return nil, nil
	}
	return structpb.NewStruct(m)
}
