<?php
/**
 * Stand-ins for the WooCommerce functions and classes the plugin calls, kept to their documented behaviour.
 *
 * Sources (woocommerce/woocommerce, plugins/woocommerce/): includes/abstracts/abstract-wc-settings-api.php
 * (settings API), includes/abstracts/abstract-wc-payment-gateway.php, includes/class-wc-order.php
 * (update_status, payment_complete, status_transition), includes/abstracts/abstract-wc-order.php
 * (get_refunds), includes/abstracts/abstract-wc-data.php (meta: get_meta answers '' for a missing
 * key when single; update_meta_data is kept in memory until save()), includes/wc-order-functions.php
 * (wc_get_order, wc_get_orders, wc_create_refund), includes/wc-notice-functions.php,
 * includes/wc-formatting-functions.php (wc_format_decimal), includes/wc-core-functions.php
 * (wc_get_price_decimals, wc_get_logger), Action Scheduler's functions.php (as_*),
 * src/Utilities/FeaturesUtil.php, src/Blocks/Payments/Integrations/AbstractPaymentMethodType.php.
 * Orders are kept as rows in WC_Test_State and read back fresh by wc_get_order(), so a change that
 * is never saved is lost as it would be in the database; notes are stored when added (they are
 * comments, inserted at once).
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting, Generic.Files.OneObjectStructurePerFile

namespace {

	/**
	 * The shop's "database": order rows, notes, refunds, notices, the schedule.
	 */
	final class WC_Test_State {
		/** @var array<int, array<string, mixed>> Order rows by id. */
		public static $orders = array();
		/** @var array<int, array<int, array{note: string, customer: bool}>> Notes by order id, oldest first. */
		public static $notes = array();
		/** @var array<int, array<string, mixed>> Refund rows by id. */
		public static $refunds = array();
		/** @var array<int, array{0: string, 1: string}> Notices added: message, type. */
		public static $notices = array();
		/** @var array<int, array<string, mixed>> Scheduled actions. */
		public static $actions = array();
		/** @var array<int, array{0: string, 1: string}> Logged lines: level, message. */
		public static $log = array();
		/** @var array<int, array{0: string, 1: string, 2: bool}> FeaturesUtil declarations. */
		public static $features = array();
		/** @var int Next post id. */
		public static $next_id = 100;

		public static function reset() {
			self::$orders   = array();
			self::$notes    = array();
			self::$refunds  = array();
			self::$notices  = array();
			self::$actions  = array();
			self::$log      = array();
			self::$features = array();
			self::$next_id  = 100;
			WC_Admin_Settings::$errors = array();
		}

		/** Create an order row and answer its id. */
		public static function add_order( array $row = array() ) {
			$id                  = ++self::$next_id;
			self::$orders[ $id ] = array_merge(
				array(
					'id'             => $id,
					'status'         => 'pending',
					'order_key'      => 'wc_order_' . substr( md5( (string) $id ), 0, 13 ),
					'total'          => '25.00',
					'currency'       => 'EUR',
					'billing_email'  => 'customer@example.com',
					'payment_method' => 'relay',
					'transaction_id' => '',
					'date_paid'      => null,
					'date_created'   => time(),
					'meta'           => array(),
				),
				$row
			);
			self::$notes[ $id ]  = array();
			return $id;
		}
	}

	class WC_Order {
		protected $data;
		protected $status_transition = null;

		public function __construct( array $row ) {
			$this->data = $row;
		}
		public function get_id() {
			return $this->data['id'];
		}
		public function get_status( $context = 'view' ) {
			return $this->data['status'];
		}
		public function has_status( $status ) {
			return in_array( $this->data['status'], (array) $status, true );
		}
		public function get_order_key( $context = 'view' ) {
			return $this->data['order_key'];
		}
		public function get_order_number() {
			return (string) $this->data['id'];
		}
		public function get_total( $context = 'view' ) {
			return $this->data['total'];
		}
		public function get_currency( $context = 'view' ) {
			return $this->data['currency'];
		}
		public function get_billing_email( $context = 'view' ) {
			return $this->data['billing_email'];
		}
		public function get_payment_method( $context = 'view' ) {
			return $this->data['payment_method'];
		}
		public function get_transaction_id( $context = 'view' ) {
			return $this->data['transaction_id'];
		}
		public function get_date_paid( $context = 'view' ) {
			return $this->data['date_paid'];
		}
		// abstract-wc-order.php get_checkout_order_received_url(): the order-received endpoint with the key.
		public function get_checkout_order_received_url() {
			return 'http://shop.test/checkout/order-received/' . $this->get_id() . '/?key=' . $this->get_order_key();
		}
		// abstract-wc-data.php: single get_meta answers the value, or '' when the key is not set.
		public function get_meta( $key = '', $single = true, $context = 'view' ) {
			return array_key_exists( $key, $this->data['meta'] ) ? $this->data['meta'][ $key ] : '';
		}
		public function update_meta_data( $key, $value, $meta_id = 0 ) {
			$this->data['meta'][ $key ] = $value;
		}
		public function delete_meta_data( $key ) {
			unset( $this->data['meta'][ $key ] );
		}
		// class-wc-order.php set_status(): a change of status is remembered for status_transition() on save.
		public function set_status( $new_status, $note = '', $manual_update = false ) {
			$old_status = $this->data['status'];
			$new_status = 0 === strpos( $new_status, 'wc-' ) ? substr( $new_status, 3 ) : $new_status;
			$this->data['status'] = $new_status;
			if ( $old_status !== $new_status ) {
				$this->status_transition = array(
					'from' => $old_status,
					'to'   => $new_status,
					'note' => $note,
				);
			}
		}
		public function set_transaction_id( $value ) {
			$this->data['transaction_id'] = (string) $value;
		}
		// class-wc-order.php save() then status_transition(): the note plus "Order status changed from X to Y.".
		public function save() {
			WC_Test_State::$orders[ $this->get_id() ] = $this->data;
			if ( $this->status_transition ) {
				$transition              = $this->status_transition;
				$this->status_transition = null;
				$this->add_order_note( trim( $transition['note'] . ' Order status changed from ' . $transition['from'] . ' to ' . $transition['to'] . '.' ) );
				do_action( 'woocommerce_order_status_' . $transition['to'], $this->get_id(), $this );
			}
			return $this->get_id();
		}
		// class-wc-order.php update_status(): set_status() and save(); true.
		public function update_status( $new_status, $note = '', $manual = false ) {
			if ( ! $this->get_id() ) {
				return false;
			}
			$this->set_status( $new_status, $note, $manual );
			$this->save();
			return true;
		}
		/*
		 * class-wc-order.php payment_complete(): for a status in
		 * woocommerce_valid_order_statuses_for_payment_complete (on-hold, pending, failed, cancelled)
		 * sets the transaction id (if given), date_paid (if unset), status processing, saves and fires
		 * woocommerce_payment_complete; otherwise it only fires payment_complete_order_status_<status>.
		 * Answers true (false only without an id).
		 */
		public function payment_complete( $transaction_id = '' ) {
			if ( ! $this->get_id() ) {
				return false;
			}
			$valid = apply_filters( 'woocommerce_valid_order_statuses_for_payment_complete', array( 'on-hold', 'pending', 'failed', 'cancelled' ), $this );
			if ( $this->has_status( $valid ) ) {
				if ( '' !== (string) $transaction_id ) {
					$this->set_transaction_id( $transaction_id );
				}
				if ( ! $this->data['date_paid'] ) {
					$this->data['date_paid'] = time();
				}
				$this->set_status( 'processing' );
				$this->save();
				do_action( 'woocommerce_payment_complete', $this->get_id(), $transaction_id );
			} else {
				do_action( 'woocommerce_payment_complete_order_status_' . $this->get_status(), $this->get_id(), $transaction_id );
			}
			return true;
		}
		// class-wc-order.php add_order_note( $note, $is_customer_note = 0, $added_by_user = false ): inserts the note at once.
		public function add_order_note( $note, $is_customer_note = 0, $added_by_user = false ) {
			WC_Test_State::$notes[ $this->get_id() ][] = array(
				'note'     => $note,
				'customer' => (bool) $is_customer_note,
			);
			return count( WC_Test_State::$notes[ $this->get_id() ] );
		}
		// abstract-wc-order.php get_refunds(): wc_get_orders( type shop_order_refund, parent ), newest first.
		public function get_refunds() {
			$refunds = array();
			foreach ( array_reverse( WC_Test_State::$refunds, true ) as $row ) {
				if ( $row['parent_id'] === $this->get_id() ) {
					$refunds[] = new WC_Order_Refund( $row );
				}
			}
			return $refunds;
		}
	}

	class WC_Order_Refund {
		protected $data;

		public function __construct( array $row = array() ) {
			$this->data = array_merge(
				array(
					'id'        => 0,
					'parent_id' => 0,
					'amount'    => '0',
					'reason'    => '',
				),
				$row
			);
		}
		public function get_id() {
			return $this->data['id'];
		}
		public function get_parent_id( $context = 'view' ) {
			return $this->data['parent_id'];
		}
		public function get_amount( $context = 'view' ) {
			return $this->data['amount'];
		}
		public function get_reason( $context = 'view' ) {
			return $this->data['reason'];
		}
		public function save() {
			if ( ! $this->data['id'] ) {
				$this->data['id'] = ++WC_Test_State::$next_id;
			}
			WC_Test_State::$refunds[ $this->data['id'] ] = $this->data;
			return $this->data['id'];
		}
		public function delete( $force_delete = false ) {
			unset( WC_Test_State::$refunds[ $this->data['id'] ] );
			return true;
		}
	}

	// wc-order-functions.php wc_get_order(): the order object, or false when there is none.
	function wc_get_order( $the_order = false ) {
		$id = is_object( $the_order ) ? $the_order->get_id() : (int) $the_order;
		return isset( WC_Test_State::$orders[ $id ] ) ? new WC_Order( WC_Test_State::$orders[ $id ] ) : false;
	}
	// wc-order-functions.php wc_get_orders() / WC_Order_Query: the args the plugin uses; newest first.
	function wc_get_orders( $args ) {
		$orders = array();
		foreach ( array_reverse( WC_Test_State::$orders, true ) as $row ) {
			if ( isset( $args['payment_method'] ) && $row['payment_method'] !== $args['payment_method'] ) {
				continue;
			}
			if ( isset( $args['status'] ) && ! in_array( $row['status'], (array) $args['status'], true ) ) {
				continue;
			}
			if ( isset( $args['date_created'] ) && '>' === $args['date_created'][0] && $row['date_created'] <= (int) substr( $args['date_created'], 1 ) ) {
				continue;
			}
			$orders[] = new WC_Order( $row );
		}
		$limit = isset( $args['limit'] ) ? (int) $args['limit'] : (int) get_option( 'posts_per_page', 10 );
		return -1 === $limit ? $orders : array_slice( $orders, 0, $limit );
	}

	/*
	 * wc-order-functions.php wc_create_refund(): builds the WC_Order_Refund, fires
	 * woocommerce_create_refund( $refund, $args ), saves it, and then, with refund_payment, calls
	 * wc_refund_payment(): the order's gateway (from the woocommerce_payment_gateways list) must
	 * support refunds; its process_refund( $order_id, $amount, $reason ) answering false or a
	 * WP_Error deletes the refund and wc_create_refund answers a WP_Error.
	 */
	function wc_create_refund( $args = array() ) {
		$order  = wc_get_order( $args['order_id'] );
		$refund = new WC_Order_Refund(
			array(
				'parent_id' => $order->get_id(),
				'amount'    => wc_format_decimal( $args['amount'] ),
				'reason'    => isset( $args['reason'] ) ? $args['reason'] : '',
			)
		);
		do_action( 'woocommerce_create_refund', $refund, $args );
		$refund->save();
		if ( ! empty( $args['refund_payment'] ) ) {
			$gateway = null;
			foreach ( apply_filters( 'woocommerce_payment_gateways', array() ) as $class ) {
				$candidate = is_object( $class ) ? $class : new $class();
				if ( $candidate->id === $order->get_payment_method() ) {
					$gateway = $candidate;
				}
			}
			if ( ! $gateway || ! $gateway->supports( 'refunds' ) ) {
				$refund->delete( true );
				return new WP_Error( 'error', 'The payment gateway for this order does not support automatic refunds.' );
			}
			$result = $gateway->process_refund( $order->get_id(), $refund->get_amount(), $refund->get_reason() );
			if ( ! $result || is_wp_error( $result ) ) {
				$refund->delete( true );
				return new WP_Error( 'error', is_wp_error( $result ) ? $result->get_error_message() : 'An error occurred while attempting to create the refund using the payment gateway API.' );
			}
		}
		return $refund;
	}

	// wc-notice-functions.php wc_add_notice( $message, $notice_type = 'success', $data = array() ).
	function wc_add_notice( $message, $notice_type = 'success', $data = array() ) {
		WC_Test_State::$notices[] = array( $message, $notice_type );
	}
	// wc-core-functions.php wc_get_price_decimals(): the woocommerce_price_num_decimals option, 2 by default.
	function wc_get_price_decimals() {
		return absint( get_option( 'woocommerce_price_num_decimals', 2 ) );
	}
	function absint( $maybeint ) {
		return abs( (int) $maybeint );
	}
	// wc-formatting-functions.php wc_format_decimal(): '' stays ''; with $dp, rounded to $dp decimals with a '.'.
	function wc_format_decimal( $number, $dp = false, $trim_zeros = false ) {
		$number = (string) $number;
		if ( '' === $number ) {
			return '';
		}
		if ( false !== $dp ) {
			$number = number_format( (float) $number, (int) $dp, '.', '' );
		}
		return $number;
	}
	// wc-core-functions.php wc_get_logger(): a WC_Logger with the PSR-3 level methods.
	function wc_get_logger() {
		return new class() {
			public function __call( $level, $args ) {
				WC_Test_State::$log[] = array( $level, $args[0] );
			}
		};
	}

	// Action Scheduler functions.php: the next timestamp of a pending action, or false when none.
	function as_next_scheduled_action( $hook, $args = null, $group = '' ) {
		foreach ( WC_Test_State::$actions as $action ) {
			if ( $action['hook'] === $hook && ( '' === $group || $action['group'] === $group ) ) {
				return $action['timestamp'];
			}
		}
		return false;
	}
	function as_schedule_recurring_action( $timestamp, $interval_in_seconds, $hook, $args = array(), $group = '', $unique = false, $priority = 10 ) {
		WC_Test_State::$actions[] = array(
			'timestamp' => $timestamp,
			'interval'  => $interval_in_seconds,
			'hook'      => $hook,
			'args'      => $args,
			'group'     => $group,
		);
		return count( WC_Test_State::$actions );
	}
	function as_unschedule_all_actions( $hook, $args = array(), $group = '' ) {
		WC_Test_State::$actions = array_values(
			array_filter(
				WC_Test_State::$actions,
				function ( $action ) use ( $hook, $group ) {
					return ! ( $action['hook'] === $hook && ( '' === $group || $action['group'] === $group ) );
				}
			)
		);
	}

	// includes/admin/class-wc-admin-settings.php: errors shown at the top of the settings screen.
	class WC_Admin_Settings {
		public static $errors = array();
		public static function add_error( $text ) {
			self::$errors[] = $text;
		}
	}

	/*
	 * abstract-wc-settings-api.php: settings live in one option (plugin_id . id . '_settings');
	 * process_admin_options() reloads them, runs each non-title field's posted value through
	 * validate_<key>_field, else validate_<type>_field, else validate_text_field; a field whose
	 * validation throws keeps its previous value and its message goes to add_error(); then the
	 * option is updated.
	 */
	abstract class WC_Settings_API {
		public $plugin_id   = 'woocommerce_';
		public $id          = '';
		public $errors      = array();
		public $settings    = array();
		public $form_fields = array();
		protected $data     = array();

		public function get_form_fields() {
			return apply_filters( 'woocommerce_settings_api_form_fields_' . $this->id, array_map( array( $this, 'set_defaults' ), $this->form_fields ) );
		}
		protected function set_defaults( $field ) {
			if ( ! isset( $field['default'] ) ) {
				$field['default'] = '';
			}
			return $field;
		}
		public function admin_options() {
			echo '<table class="form-table"></table>';
		}
		public function init_form_fields() {
		}
		public function get_option_key() {
			return $this->plugin_id . $this->id . '_settings';
		}
		public function get_field_type( $field ) {
			return empty( $field['type'] ) ? 'text' : $field['type'];
		}
		public function get_field_default( $field ) {
			return empty( $field['default'] ) ? '' : $field['default'];
		}
		public function get_field_key( $key ) {
			return $this->plugin_id . $this->id . '_' . $key;
		}
		public function get_field_value( $key, $field, $post_data = array() ) {
			$type  = $this->get_field_type( $field );
			$value = isset( $post_data[ $this->get_field_key( $key ) ] ) ? $post_data[ $this->get_field_key( $key ) ] : null;
			if ( is_callable( array( $this, 'validate_' . $key . '_field' ) ) ) {
				return $this->{'validate_' . $key . '_field'}( $key, $value );
			}
			if ( is_callable( array( $this, 'validate_' . $type . '_field' ) ) ) {
				return $this->{'validate_' . $type . '_field'}( $key, $value );
			}
			return $this->validate_text_field( $key, $value );
		}
		public function set_post_data( $data = array() ) {
			$this->data = $data;
		}
		public function get_post_data() {
			return $this->data;
		}
		public function process_admin_options() {
			$this->init_settings();
			$post_data = $this->get_post_data();
			foreach ( $this->get_form_fields() as $key => $field ) {
				if ( 'title' === $this->get_field_type( $field ) ) {
					continue;
				}
				try {
					$this->settings[ $key ] = $this->get_field_value( $key, $field, $post_data );
				} catch ( Exception $e ) {
					$this->add_error( $e->getMessage() );
				}
			}
			return update_option( $this->get_option_key(), apply_filters( 'woocommerce_settings_api_sanitized_fields_' . $this->id, $this->settings ), 'yes' );
		}
		public function add_error( $error ) {
			$this->errors[] = $error;
		}
		public function get_errors() {
			return $this->errors;
		}
		public function init_settings() {
			$this->settings = get_option( $this->get_option_key(), null );
			if ( ! is_array( $this->settings ) ) {
				$fields         = $this->get_form_fields();
				$this->settings = array_merge( array_fill_keys( array_keys( $fields ), '' ), wp_list_pluck( $fields, 'default' ) );
			}
		}
		public function get_option( $key, $empty_value = null ) {
			if ( empty( $this->settings ) ) {
				$this->init_settings();
			}
			if ( ! isset( $this->settings[ $key ] ) ) {
				$fields                 = $this->get_form_fields();
				$this->settings[ $key ] = isset( $fields[ $key ] ) ? $this->get_field_default( $fields[ $key ] ) : '';
			}
			if ( ! is_null( $empty_value ) && '' === $this->settings[ $key ] ) {
				$this->settings[ $key ] = $empty_value;
			}
			return $this->settings[ $key ];
		}
		// validate_text_field: trimmed, slashes stripped, kses'd; null is ''.
		public function validate_text_field( $key, $value ) {
			return wp_kses_post( trim( stripslashes( (string) $value ) ) );
		}
		public function validate_textarea_field( $key, $value ) {
			return wp_kses_post( trim( stripslashes( (string) $value ) ) );
		}
		public function validate_password_field( $key, $value ) {
			return trim( stripslashes( (string) $value ) );
		}
		// validate_checkbox_field: a posted checkbox is 'yes', an absent one 'no'.
		public function validate_checkbox_field( $key, $value ) {
			return ! is_null( $value ) ? 'yes' : 'no';
		}
	}

	/*
	 * abstract-wc-payment-gateway.php: enabled is 'yes'/'no'; is_available() is enabled (cart limits
	 * left out); supports() is in_array over $supports through the woocommerce_payment_gateway_supports
	 * filter; get_return_url() is the order's order-received URL through woocommerce_get_return_url.
	 */
	abstract class WC_Payment_Gateway extends WC_Settings_API {
		public $order_button_text;
		public $enabled = 'yes';
		public $title;
		public $description;
		public $chosen;
		public $method_title       = '';
		public $method_description = '';
		public $has_fields;
		public $supports = array( 'products' );
		public $icon;

		public function is_available() {
			return 'yes' === $this->enabled;
		}
		public function supports( $feature ) {
			return apply_filters( 'woocommerce_payment_gateway_supports', in_array( $feature, $this->supports, true ), $feature, $this );
		}
		public function get_return_url( $order = null ) {
			$url = $order ? $order->get_checkout_order_received_url() : 'http://shop.test/checkout/order-received/';
			return apply_filters( 'woocommerce_get_return_url', $url, $order );
		}
		public function process_payment( $order_id ) {
			return array();
		}
		public function process_refund( $order_id, $amount = null, $reason = '' ) {
			return false;
		}
	}
}

namespace Automattic\WooCommerce\Utilities {
	// src/Utilities/FeaturesUtil.php declare_compatibility( $feature_id, $plugin_file, $positive_compatibility = true ).
	class FeaturesUtil {
		public static function declare_compatibility( $feature_id, $plugin_file, $positive_compatibility = true ) {
			\WC_Test_State::$features[] = array( $feature_id, $plugin_file, $positive_compatibility );
			return true;
		}
	}
}

namespace Automattic\WooCommerce\Blocks\Payments\Integrations {
	// src/Blocks/Payments/Integrations/AbstractPaymentMethodType.php (the parts the plugin uses).
	abstract class AbstractPaymentMethodType {
		protected $name     = '';
		protected $settings = array();

		abstract public function initialize();

		protected function get_setting( $name, $default = '' ) {
			return isset( $this->settings[ $name ] ) ? $this->settings[ $name ] : $default;
		}
		public function get_name() {
			return $this->name;
		}
		public function is_active() {
			return true;
		}
		public function get_payment_method_script_handles() {
			return array();
		}
		public function get_payment_method_data() {
			return array();
		}
	}
}
